"""The daemon's engine: decides what is due (pure), carries it out, wakes up on time."""
