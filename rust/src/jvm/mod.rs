//! The JNI layer: type conversion, error mapping and the JVM-facing collector. No logic of
//! its own lives here.

mod background;
mod collector;
mod events;
mod exports;
mod guard;
mod ids;
