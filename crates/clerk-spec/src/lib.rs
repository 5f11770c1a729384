//! Test support: Clerk's official OpenAPI spec (vendored) and a JSON-schema check of bodies against it.
