//! Embeds `res/agentry.rc` (icons and the application manifest) into agentry.exe when building
//! for Windows; nothing on other targets.

fn main() {
    println!("cargo:rerun-if-changed=res");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("windows") {
        embed_resource::compile_for("res/agentry.rc", ["agentry"], embed_resource::NONE)
            .manifest_required()
            .expect("compile res/agentry.rc");
    }
}
