//! Integration tests of the emulator over real sockets on 127.0.0.1:0, in raw HTTP with
//! literal JSON.

mod bad_input;
mod common;
mod connections;
mod control_access;
mod faults;
mod limits;
mod lists;
mod newer;
mod orgs;
mod persistence;
mod secrets;
mod streamed_files;
mod users;
