//! Classes and field IDs looked up once, when `Native.init` runs.

use crate::error::Error;
use jni::objects::{GlobalRef, JFieldID};
use jni::JNIEnv;
use once_cell::sync::OnceCell;

pub struct Ids {
    /// `DirectByteBuffer.att`: the object a buffer keeps alive, ours an `Allocation`.
    pub att: JFieldID,
    pub address: JFieldID,
    pub capacity: JFieldID,
    /// `dev.directmem.BudgetExhaustedError`, loaded now: throwing it must not need class loading,
    /// which may fail when the Java heap is full too.
    pub budget_exhausted: GlobalRef,
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
            budget_exhausted: {
                let class = env.find_class("dev/directmem/BudgetExhaustedError")?;
                env.new_global_ref(class)?
            },
        })
    })
}

pub fn get() -> Result<&'static Ids, Error> {
    IDS.get()
        .ok_or_else(|| Error::IllegalState("directmem: Native.init has not run".into()))
}
