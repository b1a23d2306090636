pub mod servers;
pub mod verdicts;
