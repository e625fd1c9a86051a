"""What buttons, forms and card actions do, for every platform (Slack and Teams adapters call
it): each runs the command a person could type through the `CommandHandler`."""
