package kafka

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/sitestat/sitestat/contract"
	"github.com/sitestat/sitestat/testutil/testenv"
)

// testCtx returns a context that ends with the test or after d.
func testCtx(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func plainOpts(t *testing.T) Options {
	t.Helper()
	return Options{Brokers: testenv.Brokers(t)}
}

// loadTLS builds a client TLS configuration from the PEM files named by the
// given variables (certVar and keyVar may be empty for no client certificate).
func loadTLS(t *testing.T, caVar, certVar, keyVar string) *tls.Config {
	t.Helper()
	pem, err := os.ReadFile(testenv.Var(t, caVar))
	if err != nil {
		t.Fatalf("read CA: %v", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("%s holds no PEM certificate", caVar)
	}
	c := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	if certVar != "" {
		kp, err := tls.LoadX509KeyPair(testenv.Var(t, certVar), testenv.Var(t, keyVar))
		if err != nil {
			t.Fatalf("load client certificate: %v", err)
		}
		c.Certificates = []tls.Certificate{kp}
	}
	return c
}

func sslOpts(t *testing.T) Options {
	t.Helper()
	return Options{
		Brokers: strings.Split(testenv.Var(t, "SITESTAT_TEST_KAFKA_SSL"), ","),
		TLS:     loadTLS(t, "SITESTAT_TEST_CA_FILE", "SITESTAT_TEST_CERT_FILE", "SITESTAT_TEST_KEY_FILE"),
	}
}

func saslOpts(t *testing.T, mechanism string) Options {
	t.Helper()
	return Options{
		Brokers:       strings.Split(testenv.Var(t, "SITESTAT_TEST_KAFKA_SASL"), ","),
		TLS:           loadTLS(t, "SITESTAT_TEST_CA_FILE", "", ""),
		SASLMechanism: mechanism,
		SASLUsername:  testenv.Var(t, "SITESTAT_TEST_SASL_USERNAME"),
		SASLPassword:  testenv.Var(t, "SITESTAT_TEST_SASL_PASSWORD"),
	}
}

// newTopic creates a topic with the given partitions and deletes it when the test ends.
func newTopic(t *testing.T, opts Options, partitions int32) string {
	t.Helper()
	name := testenv.Name("sitestat_" + strings.ReplaceAll(strings.ToLower(t.Name()), "/", "_"))
	if len(name) > 200 {
		name = name[:200]
	}
	res, err := CreateTopics(testCtx(t, 30*time.Second), opts, []TopicSpec{{Name: name, Partitions: partitions}})
	if err != nil {
		t.Fatalf("create topic %s: %v", name, err)
	}
	if len(res) != 1 || res[0].Status != TopicCreated {
		t.Fatalf("create topic %s: %+v", name, res)
	}
	testenv.Eventually(t, 10*time.Second, func() bool {
		topics, err := ListTopics(testCtx(t, 10*time.Second), opts)
		_, ok := findTopic(topics, name)
		return err == nil && ok
	}, "topic %s is not listed after creation", name)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := DeleteTopics(ctx, opts, []string{name}); err != nil {
			t.Logf("delete topic %s: %v", name, err)
		}
	})
	return name
}

// readTopic reads a topic until it holds at least want messages (a topic
// just created may briefly have no leader for a partition).
func readTopic(t *testing.T, opts Options, topic string, want int) []Record {
	t.Helper()
	var msgs []Record
	var lastErr error
	testenv.Eventually(t, 20*time.Second, func() bool {
		msgs, lastErr = ReadAll(testCtx(t, 20*time.Second), opts, topic, 0)
		return lastErr == nil && len(msgs) >= want
	}, "read %d messages from %s: got %d, last error %v", want, topic, len(msgs), lastErr)
	return msgs
}

func findTopic(topics []TopicInfo, name string) (TopicInfo, bool) {
	for _, ti := range topics {
		if ti.Name == name {
			return ti, true
		}
	}
	return TopicInfo{}, false
}

// TestTopics creates, lists and deletes topics, and sends and reads a message,
// through every kind of listener sitestat supports.
func TestTopics(t *testing.T) {
	tests := []struct {
		name string
		opts func(*testing.T) Options
	}{
		{"plaintext", plainOpts},
		{"ssl client certificate", sslOpts},
		{"sasl_ssl PLAIN", func(t *testing.T) Options { return saslOpts(t, SASLPlain) }},
		{"sasl_ssl SCRAM-SHA-256", func(t *testing.T) Options { return saslOpts(t, SASLScramSHA256) }},
		{"sasl_ssl SCRAM-SHA-512", func(t *testing.T) Options { return saslOpts(t, SASLScramSHA512) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			opts := tt.opts(t)
			ctx := testCtx(t, 60*time.Second)
			tuned := testenv.Name("sitestat_topics")
			plain := testenv.Name("sitestat_topics")
			specs := []TopicSpec{
				{Name: tuned, Partitions: 2, RetentionMs: 3600000, RetentionBytes: 1 << 20},
				{Name: plain}, // defaults: 6 partitions, the broker's replication factor
			}
			t.Cleanup(func() { _ = DeleteTopics(context.Background(), opts, []string{tuned, plain}) })

			res, err := CreateTopics(ctx, opts, specs)
			if err != nil {
				t.Fatalf("CreateTopics: %v", err)
			}
			if want := []TopicResult{{tuned, TopicCreated}, {plain, TopicCreated}}; !reflect.DeepEqual(res, want) {
				t.Fatalf("CreateTopics = %+v, want %+v", res, want)
			}
			res, err = CreateTopics(ctx, opts, specs)
			if err != nil {
				t.Fatalf("CreateTopics again: %v", err)
			}
			if want := []TopicResult{{tuned, TopicExists}, {plain, TopicExists}}; !reflect.DeepEqual(res, want) {
				t.Fatalf("CreateTopics again = %+v, want %+v", res, want)
			}

			topics, err := ListTopics(ctx, opts)
			if err != nil {
				t.Fatalf("ListTopics: %v", err)
			}
			for _, ti := range topics {
				if strings.HasPrefix(ti.Name, "__") {
					t.Errorf("internal topic %s listed", ti.Name)
				}
			}
			if !slices.IsSortedFunc(topics, func(a, b TopicInfo) int { return strings.Compare(a.Name, b.Name) }) {
				t.Error("topics are not sorted by name")
			}
			ti, ok := findTopic(topics, tuned)
			if !ok {
				t.Fatalf("topic %s not listed", tuned)
			}
			if ti.Partitions != 2 || ti.ReplicationFactor != 1 || ti.Config["retention.ms"] != "3600000" || ti.Config["retention.bytes"] != "1048576" {
				t.Errorf("topic %s = %+v", tuned, ti)
			}
			ti, ok = findTopic(topics, plain)
			if !ok {
				t.Fatalf("topic %s not listed", plain)
			}
			// ReplicationFactor -1 was accepted and became the broker's default (1 here).
			if ti.Partitions != DefaultPartitions || ti.ReplicationFactor != 1 {
				t.Errorf("topic %s = %+v, want %d partitions, replication factor 1", plain, ti, DefaultPartitions)
			}

			// The idempotent sync producer and the plain consumer work here too.
			sp, err := NewSyncProducer(opts)
			if err != nil {
				t.Fatalf("NewSyncProducer: %v", err)
			}
			defer sp.Close()
			if _, _, err := sp.SendMessage(&sarama.ProducerMessage{Topic: tuned, Key: sarama.StringEncoder("9"), Value: sarama.StringEncoder("hello")}); err != nil {
				t.Fatalf("SendMessage: %v", err)
			}
			msgs := readTopic(t, opts, tuned, 1)
			if len(msgs) != 1 || string(msgs[0].Key) != "9" || string(msgs[0].Value) != "hello" {
				t.Errorf("read back %d messages, first %+v", len(msgs), msgs[0])
			}

			if err := DeleteTopics(ctx, opts, []string{tuned, plain}); err != nil {
				t.Fatalf("DeleteTopics: %v", err)
			}
			testenv.Eventually(t, 20*time.Second, func() bool {
				topics, err := ListTopics(ctx, opts)
				_, a := findTopic(topics, tuned)
				_, b := findTopic(topics, plain)
				return err == nil && !a && !b
			}, "deleted topics still listed")
			if err := DeleteTopics(ctx, opts, []string{tuned}); err != nil {
				t.Errorf("deleting a deleted topic: %v", err)
			}
		})
	}
}

// closedPort returns a local address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// TestConnectErrors checks that each misconfiguration a user can make gives
// one line that names the cause and never the password.
func TestConnectErrors(t *testing.T) {
	ssl := testenv.Var(t, "SITESTAT_TEST_KAFKA_SSL")
	password := testenv.Var(t, "SITESTAT_TEST_SASL_PASSWORD")
	wrongPassword := "wrong-" + testenv.Suffix()
	down := closedPort(t)

	tests := []struct {
		name string
		opts func(*testing.T) Options
		want []string
	}{
		{"client certificate from another CA", func(t *testing.T) Options {
			o := sslOpts(t)
			o.TLS = loadTLS(t, "SITESTAT_TEST_CA_FILE", "SITESTAT_TEST_BAD_CERT_FILE", "SITESTAT_TEST_BAD_KEY_FILE")
			return o
		}, []string{"kafka: TLS handshake with " + ssl + " failed: remote error: tls:", "rejected the client certificate", "SITESTAT_KAFKA_CERT_FILE"}},
		{"no client certificate", func(t *testing.T) Options {
			o := sslOpts(t)
			o.TLS = loadTLS(t, "SITESTAT_TEST_CA_FILE", "", "")
			return o
		}, []string{"kafka: TLS handshake with " + ssl + " failed", "requires a client certificate"}},
		{"broker certificate from an untrusted CA", func(t *testing.T) Options {
			o := sslOpts(t)
			o.TLS = loadTLS(t, "SITESTAT_TEST_BAD_CA_FILE", "SITESTAT_TEST_CERT_FILE", "SITESTAT_TEST_KEY_FILE")
			return o
		}, []string{"kafka: TLS handshake with " + ssl + " failed: the broker's certificate is not signed by a trusted CA", "SITESTAT_KAFKA_CA_FILE"}},
		{"wrong password SCRAM-SHA-512", func(t *testing.T) Options {
			o := saslOpts(t, SASLScramSHA512)
			o.SASLPassword = wrongPassword
			return o
		}, []string{`kafka: SASL authentication failed for user "sitestat" (mechanism SCRAM-SHA-512)`, "SITESTAT_KAFKA_SASL_USERNAME/SITESTAT_KAFKA_SASL_PASSWORD"}},
		{"wrong password SCRAM-SHA-256", func(t *testing.T) Options {
			o := saslOpts(t, SASLScramSHA256)
			o.SASLPassword = wrongPassword
			return o
		}, []string{`kafka: SASL authentication failed for user "sitestat" (mechanism SCRAM-SHA-256)`}},
		{"wrong password PLAIN", func(t *testing.T) Options {
			o := saslOpts(t, SASLPlain)
			o.SASLPassword = wrongPassword
			return o
		}, []string{`kafka: SASL authentication failed for user "sitestat" (mechanism PLAIN)`}},
		{"unknown user", func(t *testing.T) Options {
			o := saslOpts(t, SASLScramSHA512)
			o.SASLUsername = "nobody"
			return o
		}, []string{`kafka: SASL authentication failed for user "nobody"`}},
		{"broker down", func(t *testing.T) Options {
			return Options{Brokers: []string{down}}
		}, []string{"kafka: cannot connect to broker " + down + ": connection refused"}},
		{"plaintext client on the TLS port", func(t *testing.T) Options {
			return Options{Brokers: []string{ssl}}
		}, []string{"kafka: " + ssl + " closed the connection during setup", "TLS off, SASL off"}},
	}
	// Each case waits on sarama's retries: run them all at once (t.Parallel
	// would run only GOMAXPROCS of them at a time).
	errs := make([]error, len(tests))
	var wg sync.WaitGroup
	for i, tt := range tests {
		opts := tt.opts(t)
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = ListTopics(testCtx(t, 60*time.Second), opts)
		}()
	}
	wg.Wait()
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := errs[i]
			if err == nil {
				t.Fatal("ListTopics succeeded")
			}
			msg := err.Error()
			t.Logf("message: %s", msg)
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("message does not contain %q", w)
				}
			}
			if strings.Contains(msg, "\n") {
				t.Error("message has several lines")
			}
			if strings.Contains(msg, password) || strings.Contains(msg, wrongPassword) {
				t.Error("message contains a password")
			}
			if !errors.Is(err, sarama.ErrOutOfBrokers) {
				t.Error("the sarama error is not reachable with errors.Is")
			}
		})
	}
}

// TestConstructorsExplain checks that every constructor explains a
// connection failure the same way.
func TestConstructorsExplain(t *testing.T) {
	opts := saslOpts(t, SASLScramSHA512)
	opts.SASLPassword = "wrong-" + testenv.Suffix()
	calls := map[string]func() error{
		"NewProducer": func() error {
			_, err := NewProducer(context.Background(), opts, ProducerOptions{Topic: "any"}, nil)
			return err
		},
		"NewSyncProducer": func() error { _, err := NewSyncProducer(opts); return err },
		"NewConsumerGroup": func() error {
			_, err := NewConsumerGroup(opts, "g")
			return err
		},
		"ReadAll": func() error { _, err := ReadAll(context.Background(), opts, "any", 0); return err },
		"CreateTopics": func() error {
			_, err := CreateTopics(context.Background(), opts, []TopicSpec{{Name: "any"}})
			return err
		},
	}
	errs := make(map[string]error, len(calls))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for name, call := range calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := call()
			mu.Lock()
			errs[name] = err
			mu.Unlock()
		}()
	}
	wg.Wait()
	for name := range calls {
		t.Run(name, func(t *testing.T) {
			err := errs[name]
			if err == nil {
				t.Fatal("no error")
			}
			if msg := err.Error(); !strings.HasPrefix(msg, `kafka: SASL authentication failed for user "sitestat"`) || strings.Contains(msg, opts.SASLPassword) || strings.Contains(msg, "\n") {
				t.Errorf("error = %q", msg)
			}
		})
	}
}

func TestNewProducerUnknownTopic(t *testing.T) {
	t.Parallel()
	opts := plainOpts(t)
	topic := testenv.Name("sitestat_missing")
	var readErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, readErr = ReadAll(testCtx(t, 30*time.Second), opts, topic, 0)
	}()
	_, err := NewProducer(testCtx(t, 30*time.Second), opts, ProducerOptions{Topic: topic}, nil)
	if err == nil || !strings.Contains(err.Error(), `topic "`+topic+`" does not exist`) {
		t.Errorf("NewProducer = %v, want a missing-topic error", err)
	}
	<-done
	if readErr == nil || !strings.Contains(readErr.Error(), "does not exist") {
		t.Errorf("ReadAll = %v, want a missing-topic error", readErr)
	}
}

// TestNewProducerHonoursContext cancels NewProducer while it waits for a
// topic that does not exist (as a signal during start-up does): it returns
// the context's error at once instead of after its topic wait.
func TestNewProducerHonoursContext(t *testing.T) {
	t.Parallel()
	opts := plainOpts(t)
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := NewProducer(ctx, opts, ProducerOptions{Topic: testenv.Name("sitestat_missing")}, nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("NewProducer = %v, want the context's error", err)
	}
	if d := time.Since(start); d > topicWait/2 {
		t.Errorf("NewProducer returned after %v, want soon after its context ended (500ms)", d)
	}
}

// testResults returns n valid results of a few websites, with every optional field used.
func testResults(n int) []contract.Result {
	out := make([]contract.Result, n)
	for i := range out {
		r := testResult(int64(i%7 + 1))
		switch i % 3 {
		case 1:
			r.Up, r.Reason, r.StatusCode, r.Error = false, contract.ReasonTimeout, nil, "timeout after 5s (phase: connect)"
		case 2:
			matched := false
			r.Up, r.Reason, r.RegexMatched, r.Error = false, contract.ReasonRegexMismatch, &matched, "up_regex did not match"
			notAfter := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
			r.TLSVersion, r.CertNotAfter = "TLS 1.3", &notAfter
			r.PhasesMs = contract.Phases{DNSMs: 1.5, ConnectMs: 2.25, TLSMs: 3, TTFBMs: 4, TransferMs: 0.125}
			r.Redirects = 2
		}
		r.Probe = "probe-" + strconv.Itoa(i)
		out[i] = r
	}
	return out
}

// TestProducerRoundTrip publishes results, flushes, reads the topic with a
// plain consumer and compares every field.
func TestProducerRoundTrip(t *testing.T) {
	t.Parallel()
	opts := plainOpts(t)
	topic := newTopic(t, opts, 3)
	p, err := NewProducer(testCtx(t, 30*time.Second), opts, ProducerOptions{Topic: topic}, nil)
	if err != nil {
		t.Fatalf("NewProducer: %v", err)
	}
	want := testResults(60)
	for _, r := range want {
		publish(p, r)
	}
	if err := p.Flush(testCtx(t, 30*time.Second)); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	if s, w := p.Stats(), (ProducerStats{Published: 60, Acked: 60}); s != w {
		t.Errorf("Stats = %+v, want %+v", s, w)
	}
	if err := p.Close(testCtx(t, 30*time.Second)); err != nil {
		t.Fatalf("Close: %v", err)
	}

	msgs := readTopic(t, opts, topic, len(want))
	if len(msgs) != len(want) {
		t.Fatalf("read %d messages, want %d", len(msgs), len(want))
	}
	byID := map[string]contract.Result{}
	partitionOf := map[int64]int32{}
	for _, m := range msgs {
		r, err := contract.Decode(m.Key, m.Value)
		if err != nil {
			t.Fatalf("offset %d/%d: %v", m.Partition, m.Offset, err)
		}
		if got, want := string(m.Key), strconv.FormatInt(r.WebsiteID, 10); got != want {
			t.Errorf("key = %q, want website id %q", got, want)
		}
		if p, seen := partitionOf[r.WebsiteID]; seen && p != m.Partition {
			t.Errorf("website %d on partitions %d and %d", r.WebsiteID, p, m.Partition)
		}
		partitionOf[r.WebsiteID] = m.Partition
		if !bytes.Equal(r.Raw, m.Value) {
			t.Errorf("check %s: Raw is not the message value", r.CheckID)
		}
		r.Raw = nil // set by Decode only; compared above
		byID[r.CheckID] = r
	}
	for _, w := range want {
		got, ok := byID[w.CheckID]
		if !ok {
			t.Errorf("check %s missing", w.CheckID)
			continue
		}
		if got.Raw = nil; !reflect.DeepEqual(got, w) {
			t.Errorf("check %s:\n got %+v\nwant %+v", w.CheckID, got, w)
		}
	}
}

func TestReadAll(t *testing.T) {
	t.Parallel()
	opts := plainOpts(t)
	topic := newTopic(t, opts, 2)
	msgs, err := ReadAll(testCtx(t, 30*time.Second), opts, topic, 0)
	if err != nil || len(msgs) != 0 {
		t.Fatalf("ReadAll of an empty topic = %d messages, %v", len(msgs), err)
	}
	sp, err := NewSyncProducer(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	for i := 0; i < 10; i++ {
		if _, _, err := sp.SendMessage(&sarama.ProducerMessage{Topic: topic, Key: sarama.StringEncoder(strconv.Itoa(i)), Value: sarama.StringEncoder("v")}); err != nil {
			t.Fatal(err)
		}
	}
	all := readTopic(t, opts, topic, 10)
	if len(all) != 10 {
		t.Fatalf("read %d, want 10", len(all))
	}
	if !slices.IsSortedFunc(all, func(a, b Record) int {
		if a.Partition != b.Partition {
			return int(a.Partition - b.Partition)
		}
		return int(a.Offset - b.Offset)
	}) {
		t.Error("messages not ordered by partition, then offset")
	}
	some, err := ReadAll(testCtx(t, 30*time.Second), opts, topic, 3)
	if err != nil || len(some) != 3 {
		t.Errorf("ReadAll with limit 3 = %d messages, %v", len(some), err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := ReadAll(ctx, opts, topic, 0); !errors.Is(err, context.Canceled) {
		t.Errorf("ReadAll with a cancelled context = %v", err)
	}
}

// TestRecordWriterPartitions: WriteAt writes to the partition asked for and
// says where a hashed write went; AddPartitions raises the count, after
// which a partition that did not exist can be written to; a partition the
// topic lacks is an error.
func TestRecordWriterPartitions(t *testing.T) {
	opts := plainOpts(t)
	topic := newTopic(t, opts, 2)
	ctx := testCtx(t, 60*time.Second)
	w, err := NewRecordWriter(opts, topic)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.WriteAt(ctx, 5, []byte("k"), []byte("v")); !errors.Is(err, sarama.ErrInvalidPartition) {
		t.Fatalf("WriteAt partition 5 of 2: err = %v, want ErrInvalidPartition", err)
	}
	hashed, err := w.WriteAt(ctx, AnyPartition, []byte("k"), []byte("hashed"))
	if err != nil || hashed < 0 || hashed > 1 {
		t.Fatalf("WriteAt AnyPartition = %d, %v; want partition 0 or 1", hashed, err)
	}
	if err := AddPartitions(ctx, opts, topic, 6); err != nil {
		t.Fatalf("AddPartitions: %v", err)
	}
	topics, err := ListTopics(ctx, opts)
	if ti, ok := findTopic(topics, topic); err != nil || !ok || ti.Partitions != 6 {
		t.Fatalf("after AddPartitions: %+v, %v", ti, err)
	}
	w2, err := NewRecordWriter(opts, topic) // a fresh producer knows the new count
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Close()
	var got int32
	testenv.Eventually(t, 10*time.Second, func() bool {
		got, err = w2.WriteAt(ctx, 5, []byte("k"), []byte("pinned"))
		return err == nil
	}, "WriteAt partition 5 after AddPartitions: %v", err)
	if got != 5 {
		t.Fatalf("WriteAt partition 5 went to %d", got)
	}
	recs, err := ReadAll(ctx, opts, topic, 0)
	if err != nil {
		t.Fatal(err)
	}
	where := map[string]int32{}
	for _, r := range recs {
		where[string(r.Value)] = r.Partition
	}
	if where["hashed"] != hashed || where["pinned"] != 5 {
		t.Errorf("records by partition: %v, want hashed in %d and pinned in 5", where, hashed)
	}
	if err := AddPartitions(ctx, opts, topic, 3); err == nil {
		t.Error("AddPartitions to fewer partitions: no error")
	}
}
