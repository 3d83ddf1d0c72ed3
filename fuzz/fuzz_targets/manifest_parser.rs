//! A manifest body as a registry (or anyone able to push) sends it: the parsed view must be an answer or an
//! error, never a panic. The first byte picks the media type the body is read as; the rest is the body.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use slipway_registry::{Contents, Manifest, media};

const MEDIA_TYPES: [&str; 4] = [media::OCI_MANIFEST, media::OCI_INDEX, media::DOCKER_MANIFEST, media::DOCKER_LIST];

fuzz_target!(|data: &[u8]| {
    let Some((&first, body)) = data.split_first() else {
        return;
    };
    let media_type = MEDIA_TYPES[usize::from(first) % MEDIA_TYPES.len()];
    let manifest = Manifest::new(media_type, Bytes::copy_from_slice(body));
    let seen = match manifest.contents() {
        Ok(Contents::Image { config, layers, subject }) => {
            config.digest.to_string().len()
                + layers.iter().map(|l| l.digest.to_string().len() + l.media_type.len()).sum::<usize>()
                + subject.map_or(0, |s| s.size as usize)
        }
        Ok(Contents::Index { manifests }) => {
            manifests.iter().map(|m| m.digest.to_string().len() + m.platform.as_ref().map_or(0, |p| p.os.len())).sum()
        }
        Err(message) => message.len(),
    };
    let descriptor = manifest.descriptor();
    assert_eq!(descriptor.size, body.len() as u64);
    assert_eq!(descriptor.digest, manifest.digest);
    std::hint::black_box((seen, descriptor));
});
