//! The SSH transport on a real lab host: large stdin/stdout, stderr, exit codes, session reuse.

mod support;

use play::transport::{self, ConnectOptions};
use support::lab::Lab;

#[test]
fn ssh_exec_round_trips() {
    let lab = Lab::start("transport-ssh", 1);
    let o = lab.connect_options("h1");
    let mut t = transport::connect(&o).expect("connect");
    let data: Vec<u8> = (0..5_000_000u32).map(|i| (i % 251) as u8).collect();
    let out = t.exec("cat; echo oops >&2; exit 7", &data).expect("exec");
    assert!(out.stdout == data, "5 MB came back intact");
    assert_eq!(out.stderr_str(), "oops\n");
    assert_eq!(out.status, 7);
    // The same session serves more commands, and uploads are atomic renames.
    t.upload("/tmp/up.bin", &data[..1000]).expect("upload");
    let out = t
        .exec(
            "sha256sum < /tmp/up.bin; ls -a /tmp | grep -c play-tmp || true",
            b"",
        )
        .unwrap();
    let want = play::resources::sha256_hex(&data[..1000]);
    assert_eq!(out.stdout_str(), format!("{want}  -\n0\n"));
    // deploy + become goes through sudo.
    let mut d = transport::connect(&ConnectOptions {
        user: "deploy".into(),
        become_root: true,
        ..o.clone()
    })
    .unwrap();
    assert_eq!(d.exec("id -u", b"").unwrap().stdout_str(), "0\n");
    t.close();
    d.close();
}
