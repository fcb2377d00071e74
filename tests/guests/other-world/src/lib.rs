//! A valid component of another world: Cairn must refuse it clearly.

wit_bindgen::generate!({
    inline: "package test:other; world other { export greet: func() -> string; }",
    world: "other",
});

struct Other;

impl Guest for Other {
    fn greet() -> String {
        "hi".into()
    }
}

export!(Other);
