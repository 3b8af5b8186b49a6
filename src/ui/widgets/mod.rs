//! Drawing pieces the panes share.

pub mod chart;
pub mod table;
