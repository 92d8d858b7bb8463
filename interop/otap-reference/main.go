// Command otap-reference runs otel-arrow's own Go encoder and decoder (the reference
// implementation: github.com/open-telemetry/otel-arrow/go v0.46.0, the version the Collector's
// otelarrowreceiver v0.148.0 decodes with) on the batches otlp-otap's `sizes` example dumps,
// and sets them beside ours on the same data:
//
//   - bytes on the wire, steady batches of a stream: the Go producer with zstd IPC bodies (its
//     default) and with plain IPC bodies under zstd over the message, our encoder both ways,
//     and OTLP/protobuf under zstd;
//   - encode CPU per item: the Go producer against Go's own protobuf marshal (pdata's
//     ProtoMarshaler), i.e. the reference's OTAP/protobuf ratio;
//   - decode CPU per item in the Go consumer (what the Collector's receiver runs) of the
//     reference's stream and of ours, against pdata's protobuf unmarshal.
//
// Usage: scripts/otap-reference.sh (dumps the batches, builds this, runs it), or
// `otap-reference DIR` on a directory written with OTAP_SIZES_DUMP=DIR.
//
// Every message is compressed here with the same zstd (klauspost/compress at its default
// level, what Go's gRPC zstd codecs use), so the columns compare like with like.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/klauspost/compress/zstd"
	colarspb "github.com/open-telemetry/otel-arrow/go/api/experimental/arrow/v1"
	cfg "github.com/open-telemetry/otel-arrow/go/pkg/config"
	"github.com/open-telemetry/otel-arrow/go/pkg/otel/arrow_record"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"google.golang.org/protobuf/proto"
)

// The sizes example's batch sizes and the batches of a stream (the first carries the schemas).
var sizes = []int{100, 1000, 5000}

const batches = 5

// Items timed per way and round, and rounds (the median is printed).
const (
	itemsPerRound = 100_000
	rounds        = 5
)

// signal is what differs between traces, logs and metrics: pdata's protobuf codec, the
// producer's and the consumer's entry points and an item count.
type signal struct {
	name      string
	unmarshal func([]byte) (any, error)
	marshal   func(any) ([]byte, error)
	produce   func(*arrow_record.Producer, any) (*colarspb.BatchArrowRecords, error)
	consume   func(*arrow_record.Consumer, *colarspb.BatchArrowRecords) (int, error)
	items     func(any) int
}

var signals = []signal{
	{
		name:      "traces",
		unmarshal: func(b []byte) (any, error) { return (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(b) },
		marshal:   func(d any) ([]byte, error) { return (&ptrace.ProtoMarshaler{}).MarshalTraces(d.(ptrace.Traces)) },
		produce: func(p *arrow_record.Producer, d any) (*colarspb.BatchArrowRecords, error) {
			return p.BatchArrowRecordsFromTraces(d.(ptrace.Traces))
		},
		consume: func(c *arrow_record.Consumer, b *colarspb.BatchArrowRecords) (int, error) {
			all, err := c.TracesFrom(b)
			n := 0
			for _, d := range all {
				n += d.SpanCount()
			}
			return n, err
		},
		items: func(d any) int { return d.(ptrace.Traces).SpanCount() },
	},
	{
		name:      "logs",
		unmarshal: func(b []byte) (any, error) { return (&plog.ProtoUnmarshaler{}).UnmarshalLogs(b) },
		marshal:   func(d any) ([]byte, error) { return (&plog.ProtoMarshaler{}).MarshalLogs(d.(plog.Logs)) },
		produce: func(p *arrow_record.Producer, d any) (*colarspb.BatchArrowRecords, error) {
			return p.BatchArrowRecordsFromLogs(d.(plog.Logs))
		},
		consume: func(c *arrow_record.Consumer, b *colarspb.BatchArrowRecords) (int, error) {
			all, err := c.LogsFrom(b)
			n := 0
			for _, d := range all {
				n += d.LogRecordCount()
			}
			return n, err
		},
		items: func(d any) int { return d.(plog.Logs).LogRecordCount() },
	},
	{
		name:      "metrics",
		unmarshal: func(b []byte) (any, error) { return (&pmetric.ProtoUnmarshaler{}).UnmarshalMetrics(b) },
		marshal:   func(d any) ([]byte, error) { return (&pmetric.ProtoMarshaler{}).MarshalMetrics(d.(pmetric.Metrics)) },
		produce: func(p *arrow_record.Producer, d any) (*colarspb.BatchArrowRecords, error) {
			return p.BatchArrowRecordsFromMetrics(d.(pmetric.Metrics))
		},
		consume: func(c *arrow_record.Consumer, b *colarspb.BatchArrowRecords) (int, error) {
			all, err := c.MetricsFrom(b)
			n := 0
			for _, d := range all {
				n += d.DataPointCount()
			}
			return n, err
		},
		items: func(d any) int { return d.(pmetric.Metrics).DataPointCount() },
	},
}

// batchSet is one signal at one size: the dumped OTLP requests, as bytes and as pdata, and
// our encoder's two streams of the same batches.
type batchSet struct {
	sig        signal
	size       int
	raw        [][]byte
	data       []any
	oursZstd   []*colarspb.BatchArrowRecords
	oursPlain  []*colarspb.BatchArrowRecords
	itemsTotal int
}

func load(dir string, sig signal, size int) (*batchSet, error) {
	s := &batchSet{sig: sig, size: size}
	for r := 0; r < batches; r++ {
		raw, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("%s-%d-%d.pb", sig.name, size, r)))
		if err != nil {
			return nil, err
		}
		d, err := sig.unmarshal(raw)
		if err != nil {
			return nil, fmt.Errorf("%s-%d-%d.pb: %w", sig.name, size, r, err)
		}
		s.raw = append(s.raw, raw)
		s.data = append(s.data, d)
		s.itemsTotal += sig.items(d)
		for _, way := range []string{"zstd", "plain"} {
			name := fmt.Sprintf("ours-%s-%s-%d-%d.bar", way, sig.name, size, r)
			b, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				return nil, err
			}
			var bar colarspb.BatchArrowRecords
			if err := proto.Unmarshal(b, &bar); err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			if way == "zstd" {
				s.oursZstd = append(s.oursZstd, &bar)
			} else {
				s.oursPlain = append(s.oursPlain, &bar)
			}
		}
	}
	return s, nil
}

var encoder, _ = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault))

func zstdLen(b []byte) int { return len(encoder.EncodeAll(b, nil)) }

func wireLen(b *colarspb.BatchArrowRecords) []byte {
	out, err := proto.Marshal(b)
	if err != nil {
		fail(err)
	}
	return out
}

// stream encodes the set's batches with a fresh producer, in order.
func (s *batchSet) stream(opts ...cfg.Option) []*colarspb.BatchArrowRecords {
	p := arrow_record.NewProducerWithOptions(opts...)
	defer p.Close()
	var out []*colarspb.BatchArrowRecords
	for _, d := range s.data {
		b, err := s.sig.produce(p, d)
		if err != nil {
			fail(err)
		}
		// The producer reuses its buffers: keep a copy.
		out = append(out, proto.Clone(b).(*colarspb.BatchArrowRecords))
	}
	return out
}

// steady is the mean of the batches after the first, each measured by `size`.
func steady[T any](all []T, size func(T) int) int {
	sum := 0
	for _, b := range all[1:] {
		sum += size(b)
	}
	return sum / (len(all) - 1)
}

func sizesTable(sets []*batchSet) {
	fmt.Println("| signal | batch | OTLP+zstd | Go OTAP, zstd IPC | ratio | Go OTAP, plain IPC + zstd | ratio | ours, zstd IPC | ratio | ours, plain IPC + zstd | ratio |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, s := range sets {
		otlp := steady(s.raw, zstdLen)
		plain := func(b *colarspb.BatchArrowRecords) int { return len(wireLen(b)) }
		compressed := func(b *colarspb.BatchArrowRecords) int { return zstdLen(wireLen(b)) }
		goZstd := steady(s.stream(cfg.WithZstd()), plain)
		goPlain := steady(s.stream(cfg.WithNoZstd()), compressed)
		oursZstd := steady(s.oursZstd, plain)
		oursPlain := steady(s.oursPlain, compressed)
		r := func(n int) float64 { return float64(otlp) / float64(n) }
		fmt.Printf("| %s | %d | %d | %d | %.2f | %d | %.2f | %d | %.2f | %d | %.2f |\n",
			s.sig.name, s.size, otlp, goZstd, r(goZstd), goPlain, r(goPlain),
			oursZstd, r(oursZstd), oursPlain, r(oursPlain))
	}
}

func median(samples []float64) float64 {
	sort.Float64s(samples)
	return samples[len(samples)/2]
}

// timeWays runs each way for about itemsPerRound items per round, the ways interleaved, and
// returns each way's median ns per item.
func timeWays(ways []func() int) []float64 {
	samples := make([][]float64, len(ways))
	for r := 0; r < rounds; r++ {
		for i, way := range ways {
			items := 0
			start := time.Now()
			for items < itemsPerRound {
				items += way()
			}
			samples[i] = append(samples[i], float64(time.Since(start).Nanoseconds())/float64(items))
		}
	}
	out := make([]float64, len(ways))
	for i, s := range samples {
		out[i] = median(s)
	}
	return out
}

// encodeWays: protobuf marshal, and a long-lived producer each way, cycling the batches.
func encodeWays(s *batchSet) []func() int {
	next := 0
	marshal := func() int {
		d := s.data[next%batches]
		next++
		if _, err := s.sig.marshal(d); err != nil {
			fail(err)
		}
		return s.sig.items(d)
	}
	producer := func(opts ...cfg.Option) func() int {
		p := arrow_record.NewProducerWithOptions(opts...)
		i := 0
		return func() int {
			d := s.data[i%batches]
			i++
			if _, err := s.sig.produce(p, d); err != nil {
				fail(err)
			}
			return s.sig.items(d)
		}
	}
	return []func() int{marshal, producer(cfg.WithZstd()), producer(cfg.WithNoZstd())}
}

// decodeWays: protobuf unmarshal, and the consumer over a stream's steady batches (a fresh
// consumer takes the first batch, untimed, then the others; IPC state forbids replaying them).
func decodeWays(s *batchSet, goStream []*colarspb.BatchArrowRecords) []func() int {
	next := 0
	unmarshal := func() int {
		raw := s.raw[next%batches]
		next++
		d, err := s.sig.unmarshal(raw)
		if err != nil {
			fail(err)
		}
		return s.sig.items(d)
	}
	consumer := func(stream []*colarspb.BatchArrowRecords) func() int {
		var c *arrow_record.Consumer
		i := 0
		return func() int {
			if i%batches == 0 {
				if c != nil {
					c.Close()
				}
				c = arrow_record.NewConsumer()
				if _, err := s.sig.consume(c, stream[0]); err != nil {
					fail(err)
				}
				i++
			}
			b := stream[i%batches]
			i++
			n, err := s.sig.consume(c, b)
			if err != nil {
				fail(err)
			}
			return n
		}
	}
	return []func() int{unmarshal, consumer(goStream), consumer(s.oursZstd)}
}

func cpuTables(sets []*batchSet) {
	fmt.Println("\nEncode, ns per item (median of interleaved rounds):")
	fmt.Println()
	fmt.Println("| signal | batch | Go protobuf marshal | Go OTAP, zstd IPC | Go OTAP, plain IPC | OTAP / protobuf | plain / protobuf |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|")
	for _, s := range sets {
		t := timeWays(encodeWays(s))
		fmt.Printf("| %s | %d | %.0f | %.0f | %.0f | %.1f | %.1f |\n",
			s.sig.name, s.size, t[0], t[1], t[2], t[1]/t[0], t[2]/t[0])
	}
	fmt.Println("\nDecode in the Go consumer (the Collector's otelarrowreceiver), ns per item:")
	fmt.Println()
	fmt.Println("| signal | batch | Go protobuf unmarshal | Go consumer, Go's stream | Go consumer, our stream | ours / Go's | ours / protobuf |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|")
	for _, s := range sets {
		goStream := s.stream(cfg.WithZstd())
		checkReplayable(s, goStream)
		t := timeWays(decodeWays(s, goStream))
		fmt.Printf("| %s | %d | %.0f | %.0f | %.0f | %.2f | %.1f |\n",
			s.sig.name, s.size, t[0], t[1], t[2], t[2]/t[1], t[2]/t[0])
	}
}

// checkReplayable decodes both streams twice with fresh consumers: the timing replays the
// same batch values, which is sound only if consuming a batch leaves it as it was.
func checkReplayable(s *batchSet, stream []*colarspb.BatchArrowRecords) {
	for pass := 0; pass < 2; pass++ {
		for _, st := range [][]*colarspb.BatchArrowRecords{stream, s.oursZstd} {
			c := arrow_record.NewConsumer()
			for _, b := range st {
				if _, err := s.sig.consume(c, b); err != nil {
					fail(fmt.Errorf("%s %d, pass %d: %w", s.sig.name, s.size, pass, err))
				}
			}
			c.Close()
		}
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "otap-reference:", err)
	os.Exit(1)
}

func main() {
	if len(os.Args) != 2 {
		fail(fmt.Errorf("usage: otap-reference DIR (the batches of OTAP_SIZES_DUMP=DIR cargo run -p otlp-otap --example sizes)"))
	}
	var sets []*batchSet
	for _, sig := range signals {
		for _, size := range sizes {
			s, err := load(os.Args[1], sig, size)
			if err != nil {
				fail(err)
			}
			sets = append(sets, s)
		}
	}
	fmt.Println("Bytes on the wire, steady batches (ratio: OTLP+zstd / OTAP, above 1 OTAP is smaller):")
	fmt.Println()
	sizesTable(sets)
	cpuTables(sets)
}
