"""CRM sync: deals pulled from a CRM's API become events (HubSpot first)."""
