// Placeholder until the target's sources land.
