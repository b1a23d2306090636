//! Director test suite: the pure director (translation, desired table from
//! verdicts, quorum, sorry server, reload diffs) and the daemon end to end
//! in a UML kernel with real nginx real servers.

#[path = "director/pure.rs"]
mod pure;

#[path = "director/site.rs"]
mod site;

#[path = "director/uml.rs"]
mod uml;

#[path = "director/cli.rs"]
mod cli;

#[path = "director/admin.rs"]
mod admin;
