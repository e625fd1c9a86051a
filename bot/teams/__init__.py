"""Microsoft Teams adapter on the Microsoft 365 Agents SDK (`microsoft-agents-*`).

`app.TeamsBot` serves `POST /api/messages`: every request's Bot Framework JWT is validated
(`auth`), message activities become `CommandRequest`s for the shared command handler
(`activities`), and replies go back to the Bot Connector as text plus an Adaptive Card
(`cards`). `connector` holds the proactive sender and the Teams Workflows webhook sender;
`references` the conversation references that proactive messages need.
"""
