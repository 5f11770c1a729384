//! Transport for the Clerk client: a tower Service over hyper 1 and hyper-util with rustls (ring).
