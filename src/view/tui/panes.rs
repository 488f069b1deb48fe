//! One file per pane: each renders model records into a buffer area and
//! keeps no state of its own.
