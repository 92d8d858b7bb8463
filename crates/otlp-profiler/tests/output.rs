//! A profile built from synthetic samples whose frames are functions of this test binary:
//! aggregation, symbolization, queries, pprof, flame graph, and export over the three OTLP
//! protocols.

mod common;

use common::{MS10, cpu_profile, sample, span};
use otlp_profiler::profiles::Sample;
use otlp_profiler::testing::build_profile;
use otlp_profiler::{Profile, ProfileConfig, ProfileType};
use otlp_sdk::otlp_proto::common::Value;

fn names_of(profile: &Profile, s: &Sample) -> Vec<String> {
    let d = profile.dictionary();
    let stack = &d.stack_table[s.stack_index as usize];
    stack
        .location_indices
        .iter()
        .map(|&l| {
            let loc = &d.location_table[l as usize];
            let line = loc.lines.last().expect("symbolized");
            let f = &d.function_table[line.function_index as usize];
            d.string_table[f.name_strindex as usize].to_string()
        })
        .collect()
}

#[test]
fn samples_aggregate_and_symbolize() {
    let p = cpu_profile();
    let d = p.dictionary();
    assert_eq!(p.profile_types(), [ProfileType::Cpu]);
    assert_eq!(p.sample_count(ProfileType::Cpu), 3);
    assert_eq!(p.total(ProfileType::Cpu, 0), 3);
    assert_eq!(p.total(ProfileType::Cpu, 1), 3 * MS10);

    let cpu = p.otlp_profile(ProfileType::Cpu, 1).unwrap();
    let t = cpu.sample_type.as_ref().unwrap();
    assert_eq!(d.string_table[t.type_strindex as usize], "cpu");
    assert_eq!(d.string_table[t.unit_strindex as usize], "nanoseconds");
    let period = cpu.period_type.as_ref().unwrap();
    assert_eq!(d.string_table[period.type_strindex as usize], "cpu");
    assert_eq!(cpu.period, 10_000_000);
    assert_eq!((cpu.time_unix_nano, cpu.duration_nano), (1_000, 1_000));
    assert_eq!(cpu.profile_id.len(), 16);
    assert_eq!(cpu.samples.len(), 2, "identical samples aggregate");

    let s = &cpu.samples[0];
    assert_eq!(s.values, [MS10, MS10]);
    assert_eq!(s.timestamps_unix_nano, [1_001, 1_002]);
    let names = names_of(&p, s);
    assert!(names[0].ends_with("leaf_fn_alpha"), "{names:?}");
    assert!(names[1].ends_with("middle_fn_beta"), "{names:?}");
    assert!(names[2].ends_with("root_fn_gamma"), "{names:?}");
    let link = &d.link_table[s.link_index as usize];
    assert_eq!(link.trace_id.as_ref(), [0xaa; 16]);
    assert_eq!(link.span_id.as_ref(), [0xbb; 8]);
    let attrs: Vec<(String, Value)> = s
        .attribute_indices
        .iter()
        .map(|&i| {
            let a = &d.attribute_table[i as usize];
            let key = d.string_table[a.key_strindex as usize].to_string();
            (key, a.value.clone().unwrap().value.unwrap())
        })
        .collect();
    assert!(attrs.contains(&("thread.id".to_owned(), Value::IntValue(7))));
    assert!(attrs.contains(&(
        "thread.name".to_owned(),
        Value::StringValue("worker".into())
    )));
    assert_eq!(cpu.samples[1].link_index, 0);
    assert_eq!(names_of(&p, &cpu.samples[1]).len(), 2);

    // Zero values first; links of 16 and 8 bytes.
    assert_eq!(d.string_table[0], "");
    assert_eq!(d.link_table[0].trace_id.as_ref(), [0; 16]);
    assert_eq!(d.link_table[0].span_id.as_ref(), [0; 8]);
    assert_eq!(d.mapping_table[0], Default::default());

    // The leaf's location: in the test binary's mapping, with both build ids, file and line.
    let leaf =
        &d.location_table[d.stack_table[s.stack_index as usize].location_indices[0] as usize];
    let mapping = &d.mapping_table[leaf.mapping_index as usize];
    let exe = std::env::current_exe().unwrap();
    assert_eq!(
        d.string_table[mapping.filename_strindex as usize].as_str(),
        exe.to_string_lossy()
    );
    assert!(mapping.memory_start <= leaf.address && leaf.address < mapping.memory_limit);
    let keys: Vec<&str> = mapping
        .attribute_indices
        .iter()
        .map(|&i| d.string_table[d.attribute_table[i as usize].key_strindex as usize].as_str())
        .collect();
    assert!(
        keys.contains(&"process.executable.build_id.htlhash"),
        "{keys:?}"
    );
    let line = leaf.lines.last().unwrap();
    let function = &d.function_table[line.function_index as usize];
    assert!(d.string_table[function.filename_strindex as usize].ends_with("tests/common/mod.rs"));
    assert!(line.line > 0);
}

#[test]
fn an_unresolved_address_keeps_its_address() {
    let config = ProfileConfig::new();
    let p = build_profile(&config, vec![sample(vec![0x10], 1, None, 1)], 0, 1);
    let d = p.dictionary();
    let cpu = p.otlp_profile(ProfileType::Cpu, 1).unwrap();
    let stack = &d.stack_table[cpu.samples[0].stack_index as usize];
    let loc = &d.location_table[stack.location_indices[0] as usize];
    assert_eq!((loc.address, loc.mapping_index), (0x10, 0));
    assert!(loc.lines.is_empty());
    assert_eq!(p.top_functions(ProfileType::Cpu, 1)[0].name, "+0x10");
}

#[test]
fn queries_rank_functions_and_spans() {
    let p = cpu_profile();
    let top = p.top_functions(ProfileType::Cpu, 10);
    let find = |suffix: &str| top.iter().find(|f| f.name.ends_with(suffix)).unwrap();
    assert!(top[0].name.ends_with("leaf_fn_alpha"), "{top:?}");
    assert_eq!(find("leaf_fn_alpha").self_value, 2 * MS10);
    assert_eq!(find("middle_fn_beta").self_value, MS10);
    assert_eq!(find("middle_fn_beta").total_value, 3 * MS10);
    assert_eq!(find("root_fn_gamma").total_value, 3 * MS10);
    assert_eq!(find("root_fn_gamma").self_value, 0);
    assert_eq!(p.top_functions(ProfileType::Cpu, 1).len(), 1);
    assert!(p.top_functions(ProfileType::Heap, 1).is_empty());

    let by_span = p.value_by_span(ProfileType::Cpu);
    assert_eq!(by_span, [(span().trace_id, span().span_id, 2 * MS10)]);
}

#[test]
fn a_request_reads_back_as_the_profile() {
    let p = cpu_profile();
    let payload = otlp_sdk::profiles::ProfilesPayload::from(p.clone());
    assert_eq!(payload.scope.name, "otlp-profiler");
    let request = payload.into_request(Default::default());
    let back = Profile::from_request(&request).unwrap();
    assert_eq!(back, [p]);

    let mut broken = request.clone();
    broken.dictionary = None;
    assert!(Profile::from_request(&broken).is_err());
    let mut broken = request;
    broken.resource_profiles[0].scope_profiles[0].profiles[0].samples[0].stack_index = 99;
    let e = Profile::from_request(&broken).unwrap_err();
    assert!(e.to_string().contains("stack 99"), "{e}");
}

#[test]
fn flame_graph_names_the_functions() {
    let p = cpu_profile();
    let folded = p.folded_stacks(ProfileType::Cpu);
    assert_eq!(folded.len(), 2, "{folded:?}");
    assert!(
        folded
            .iter()
            .any(|l| l.ends_with(&format!("leaf_fn_alpha {}", 2 * MS10)))
    );
    let svg = String::from_utf8(p.flamegraph_svg(ProfileType::Cpu).unwrap()).unwrap();
    assert!(svg.starts_with("<?xml"));
    for f in ["leaf_fn_alpha", "middle_fn_beta", "root_fn_gamma"] {
        assert!(svg.contains(f), "{f} missing");
    }
    assert!(p.flamegraph_svg(ProfileType::Heap).is_err());
}

#[test]
fn go_tool_pprof_reads_the_pprof() {
    let p = cpu_profile();
    let bytes = p.to_pprof(ProfileType::Cpu).unwrap();
    assert_eq!(&bytes[..2], [0x1f, 0x8b], "gzipped");
    assert!(p.to_pprof(ProfileType::Heap).is_err());
    if std::process::Command::new("go")
        .arg("version")
        .output()
        .is_err()
    {
        println!("skipped: no `go` on PATH to run `go tool pprof`");
        return;
    }
    let dir = std::env::temp_dir().join(format!("otlp-profiler-pprof-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("cpu.pb.gz");
    std::fs::write(&file, &bytes).unwrap();
    let out = std::process::Command::new("go")
        .args(["tool", "pprof", "-top", "-symbolize=none"])
        .arg(&file)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for f in ["leaf_fn_alpha", "middle_fn_beta", "root_fn_gamma"] {
        assert!(stdout.contains(f), "{f} missing from:\n{stdout}");
    }
    assert!(stdout.contains("30ms total"), "{stdout}");
    let tags = std::process::Command::new("go")
        .args(["tool", "pprof", "-tags", "-symbolize=none"])
        .arg(&file)
        .output()
        .unwrap();
    let tags = String::from_utf8_lossy(&tags.stdout);
    for tag in [
        "thread.name",
        "worker",
        "span_id",
        &"bb".repeat(8),
        "thread.id",
    ] {
        assert!(tags.contains(tag), "{tag} missing from:\n{tags}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_over_each_protocol_delivers_the_profile() {
    use otlp_sdk::otlp_proto::Request;
    use otlp_sdk::{ClientConfig, OtlpClient, Protocol};
    use test_support::client::{WAIT, exporter_config, receiver_for};

    let p = cpu_profile();
    for (name, protocol) in [
        ("grpc", Protocol::Grpc),
        ("http/protobuf", Protocol::HttpProtobuf),
        ("http/json", Protocol::HttpJson),
    ] {
        let (receiver, sink, _) = receiver_for(name).await;
        let config = ClientConfig::new().with_exporter(exporter_config(&receiver, protocol));
        let client = OtlpClient::new(config).await.unwrap();
        client.export_profile(p.clone()).await.unwrap();
        assert!(
            sink.wait_for_requests(1, WAIT).await,
            "{name}: nothing received"
        );
        let Request::Profiles(request) = sink.requests().remove(0).request else {
            panic!("{name}: not a profiles request");
        };
        let scope = &request.resource_profiles[0].scope_profiles[0];
        assert_eq!(
            scope.scope.as_ref().unwrap().name,
            "otlp-profiler",
            "{name}"
        );
        assert_eq!(request.dictionary.as_ref(), Some(p.dictionary()), "{name}");
        let sent: Vec<_> = p.otlp_profiles().cloned().collect();
        assert_eq!(scope.profiles, sent, "{name}");
        assert_eq!(
            Profile::from_request(&request).unwrap(),
            std::slice::from_ref(&p),
            "{name}"
        );
        client.shutdown(WAIT).await.unwrap();
    }
}
