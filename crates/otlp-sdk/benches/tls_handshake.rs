//! The cost of a full TLS 1.3 handshake with the SDK's crypto provider: rustls with aws-lc-rs
//! and the post-quantum hybrid X25519MLKEM768 (what the SDK offers first), against rustls with
//! ring and X25519 (what it used before), and aws-lc-rs with X25519 alone, in the same run.
//!
//! `cargo bench -p otlp-sdk --bench tls_handshake`. One handshake is a client and a server
//! connection exchanging records in memory (no sockets) until both are done: the client's
//! and the server's CPU time together, certificate verification included (an ECDSA P-256
//! certificate from a test CA). Session resumption is off, so each handshake is full. After
//! criterion's runs, interleaved rounds (every contender in each) give the medians and the
//! ratios printed at the end (ring X25519 / the other: below 1 means slower than ring X25519),
//! with the bytes each handshake exchanged.

#![allow(clippy::print_stdout)]

use bench_support::{Row, print_rows_as};
use criterion::Criterion;
use rustls::client::Resumption;
use rustls::crypto::CryptoProvider;
use rustls::server::NoServerSessionStorage;
use rustls::{ClientConfig, ClientConnection, NamedGroup, RootCertStore, ServerConfig};
use rustls::{ServerConnection, SupportedProtocolVersion};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A client and a server configuration that handshake with each other.
struct Pair {
    client: Arc<ClientConfig>,
    server: Arc<ServerConfig>,
}

/// A CA and a server certificate for `localhost` it issued, PEM.
fn pki() -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    let mut ca = CertificateParams::new(Vec::new()).expect("params");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_key = KeyPair::generate().expect("key");
    let ca_cert = ca.self_signed(&ca_key).expect("CA");
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate().expect("key");
    let cert = CertificateParams::new(vec!["localhost".to_owned()])
        .expect("params")
        .signed_by(&key, &issuer)
        .expect("leaf");
    (
        ca_cert.pem().into_bytes(),
        cert.pem().into_bytes(),
        key.serialize_pem().into_bytes(),
    )
}

const TLS13: &[&SupportedProtocolVersion] = &[&rustls::version::TLS13];

/// Interleaved rounds, and handshakes per contender in each.
const ROUNDS: usize = 31;
const PER_ROUND: usize = 200;

fn pair(provider: CryptoProvider, pki: &(Vec<u8>, Vec<u8>, Vec<u8>)) -> Pair {
    let provider = Arc::new(provider);
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(&pki.0).expect("CA"))
        .expect("add CA");
    let mut client = ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(TLS13)
        .expect("TLS 1.3")
        .with_root_certificates(roots)
        .with_no_client_auth();
    client.resumption = Resumption::disabled();
    let mut server = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(TLS13)
        .expect("TLS 1.3")
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from_pem_slice(&pki.1).expect("cert")],
            PrivateKeyDer::from_pem_slice(&pki.2).expect("key"),
        )
        .expect("server");
    server.session_storage = Arc::new(NoServerSessionStorage {});
    server.send_tls13_tickets = 0;
    Pair {
        client: Arc::new(client),
        server: Arc::new(server),
    }
}

/// One full handshake; the bytes exchanged and the group agreed.
fn handshake(pair: &Pair) -> (usize, Option<NamedGroup>) {
    let name = ServerName::try_from("localhost").expect("name");
    let mut client = ClientConnection::new(pair.client.clone(), name).expect("client");
    let mut server = ServerConnection::new(pair.server.clone()).expect("server");
    let mut buf = Vec::with_capacity(8192);
    let mut bytes = 0;
    while client.is_handshaking() || server.is_handshaking() {
        buf.clear();
        while client.wants_write() {
            client.write_tls(&mut buf).expect("client writes");
        }
        bytes += buf.len();
        let mut rd = &buf[..];
        while !rd.is_empty() {
            server.read_tls(&mut rd).expect("server reads");
        }
        server.process_new_packets().expect("server handshake");
        buf.clear();
        while server.wants_write() {
            server.write_tls(&mut buf).expect("server writes");
        }
        bytes += buf.len();
        let mut rd = &buf[..];
        while !rd.is_empty() {
            client.read_tls(&mut rd).expect("client reads");
        }
        client.process_new_packets().expect("client handshake");
    }
    let group = client.negotiated_key_exchange_group().map(|g| g.name());
    (bytes, group)
}

fn tls_handshake(c: &mut Criterion) {
    let pki = pki();
    let aws_x25519 = {
        let mut p = rustls::crypto::aws_lc_rs::default_provider();
        p.kx_groups = vec![rustls::crypto::aws_lc_rs::kx_group::X25519];
        p
    };
    let contenders: [(&'static str, Pair, NamedGroup); 3] = [
        (
            "ring X25519",
            pair(rustls::crypto::ring::default_provider(), &pki),
            NamedGroup::X25519,
        ),
        (
            "aws-lc-rs X25519",
            pair(aws_x25519, &pki),
            NamedGroup::X25519,
        ),
        (
            "aws-lc-rs X25519MLKEM768",
            pair(rustls::crypto::aws_lc_rs::default_provider(), &pki),
            NamedGroup::X25519MLKEM768,
        ),
    ];
    let mut sizes = Vec::new();
    for (name, pair, group) in &contenders {
        let (bytes, got) = handshake(pair);
        assert_eq!(got, Some(*group), "{name}");
        sizes.push((*name, bytes));
    }

    let mut group = c.benchmark_group("tls_handshake");
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .sample_size(30);
    for (name, pair, _) in &contenders {
        group.bench_function(*name, |b| b.iter(|| black_box(handshake(pair))));
    }
    group.finish();

    // Criterion runs one contender after the other; on a shared machine the load moves between
    // them. The ratios come from interleaved rounds instead: each round times a batch of
    // handshakes of every contender, one after the other.
    let mut rounds = vec![Vec::<f64>::new(); contenders.len()];
    for _ in 0..ROUNDS {
        for (i, (_, pair, _)) in contenders.iter().enumerate() {
            let start = Instant::now();
            for _ in 0..PER_ROUND {
                black_box(handshake(pair));
            }
            rounds[i].push(start.elapsed().as_secs_f64() / PER_ROUND as f64);
        }
    }
    let mut rows = vec![
        Row {
            name: "aws-lc-rs X25519MLKEM768",
            ours: rounds[2].clone(),
            theirs: rounds[0].clone(),
        },
        Row {
            name: "aws-lc-rs X25519",
            ours: rounds[1].clone(),
            theirs: rounds[0].clone(),
        },
    ];
    print_rows_as(
        "Full TLS 1.3 handshake, client and server, in memory (median of interleaved rounds)",
        "µs",
        1e6,
        &mut rows,
        false,
        ["provider/group", "ring X25519"],
    );
    println!("\nBytes exchanged per handshake");
    for (name, bytes) in sizes {
        println!("{name:<34} {bytes:>8}");
    }
}

criterion::criterion_group!(benches, tls_handshake);
criterion::criterion_main!(benches);
