"""Review metrics: durations, counts, backlog states, people, organisations, subsystems."""
