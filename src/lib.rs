//! Examples and benches of the clerk-tower workspace.
