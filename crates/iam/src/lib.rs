//! IAM policy documents: parsing with source locations, validation like IAM, and evaluation that answers
//! exactly like AWS. Pure: no I/O, no clock, no randomness.
