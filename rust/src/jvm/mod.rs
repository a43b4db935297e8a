//! The JNI layer: type conversion, error mapping and the JVM-facing collector. No logic of
//! its own lives here.

mod collector;
mod events;
mod exports;
mod guard;
mod ids;
