//! Classes and field IDs looked up once, when `Native.init` runs.

use crate::error::Error;
use jni::objects::{GlobalRef, JFieldID};
use jni::JNIEnv;
use once_cell::sync::OnceCell;

pub struct Ids {
    pub direct_byte_buffer: GlobalRef,
    /// `DirectByteBuffer.att`: the object a buffer keeps alive, ours an `Allocation`.
    pub att: JFieldID,
    pub address: JFieldID,
    pub capacity: JFieldID,
    pub limit: JFieldID,
    pub position: JFieldID,
    pub mark: JFieldID,
}

static IDS: OnceCell<Ids> = OnceCell::new();

pub fn init(env: &mut JNIEnv) -> Result<&'static Ids, Error> {
    IDS.get_or_try_init(|| {
        let dbb = env.find_class("java/nio/DirectByteBuffer")?;
        let buffer = env.find_class("java/nio/Buffer")?;
        Ok(Ids {
            att: env.get_field_id(&dbb, "att", "Ljava/lang/Object;")?,
            address: env.get_field_id(&buffer, "address", "J")?,
            capacity: env.get_field_id(&buffer, "capacity", "I")?,
            limit: env.get_field_id(&buffer, "limit", "I")?,
            position: env.get_field_id(&buffer, "position", "I")?,
            mark: env.get_field_id(&buffer, "mark", "I")?,
            direct_byte_buffer: env.new_global_ref(dbb)?,
        })
    })
}

pub fn get() -> Result<&'static Ids, Error> {
    IDS.get()
        .ok_or_else(|| Error::IllegalState("directmem: Native.init has not run".into()))
}
