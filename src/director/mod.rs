//! The director: desired IPVS table from the config model and checker verdicts.
