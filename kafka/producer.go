package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/IBM/sarama"

	"github.com/sitestat/sitestat/internal/retry"
)

// Defaults of ProducerOptions.
const (
	DefaultProducerBuffer = 100000
	DefaultLinger         = 20 * time.Millisecond
	DefaultFlushTimeout   = 30 * time.Second
)

// Tuning of the Producer's own re-send loop (sarama's short retries come first).
const (
	resendBackoffMin = 250 * time.Millisecond
	resendBackoffMax = 5 * time.Second
	// recreateAfter is how long produce requests may keep failing, with no
	// success at all, before the sarama producer is replaced by a fresh one.
	recreateAfter = 60 * time.Second
	// logEvery limits the warnings about failures and drops.
	logEvery = 10 * time.Second
)

// connectBackoff spaces StartProducer's attempts to reach the cluster; each
// failed attempt logs one warning.
var connectBackoff = retry.Backoff{Min: time.Second, Max: 15 * time.Second}

// ProducerOptions configures a Producer.
type ProducerOptions struct {
	// Topic receives the results. Required; it must exist.
	Topic string
	// Buffer is the most results the Producer holds that the broker has not
	// acknowledged yet (waiting to be sent, in flight, or kept for re-send
	// after a failure); past it the oldest waiting results are dropped.
	// 0 means DefaultProducerBuffer.
	Buffer int
	// Compression is the codec: "zstd" (the default when empty), "lz4",
	// "snappy", "gzip" or "none".
	Compression string
	// Linger is how long sarama gathers messages into one batch before
	// sending it. 0 means DefaultLinger.
	Linger time.Duration
	// FlushTimeout bounds Flush and Close when their context has no deadline.
	// 0 means DefaultFlushTimeout.
	FlushTimeout time.Duration
}

// ProducerStats counts what a Producer did since it was created.
type ProducerStats struct {
	// Published is how many results Publish accepted.
	Published uint64
	// Acked is how many the broker acknowledged (a re-sent result may be acknowledged twice).
	Acked uint64
	// Failed is how many sends sarama gave up on; each was kept for re-send.
	Failed uint64
	// Dropped is how many results were given up on: the buffer was full, the
	// broker rejected it for good, it was published after Close, or Close's
	// deadline passed before the broker acknowledged it (waiting or in
	// flight). After Close, every published
	// result is either acknowledged or dropped.
	Dropped uint64
	// Pending is how many results are held now: waiting or in flight.
	Pending int
	// Recreated is how many times the sarama producer was replaced.
	Recreated uint64
}

// item is one record (a result) on its way to the broker.
type item struct {
	key, value []byte
	seq        uint64 // order of Publish; re-sends keep it
}

// Producer publishes records (the checker's results, encoded by the checker)
// to a topic without ever blocking the checker for long; it never looks
// inside them. It wraps an idempotent, compressed sarama AsyncProducer
// (acks from all in-sync replicas, key = website id, hash partitioner) and
// adds what the idempotent producer does not cover: a result sarama gives up
// on (the broker is down for longer than sarama's own retries) is kept and
// sent again, with backoff, until the broker takes it, and at most Buffer
// results are held. A re-sent result may be stored twice, which is harmless:
// sync stores each check_id once. A Producer is safe for concurrent use.
type Producer struct {
	opts   Options
	popts  ProducerOptions
	logger *slog.Logger
	newGen func(ctx context.Context) (*generation, error)
	// connectBackoff spaces the attempts to make the first sarama producer
	// when the Producer was started without one (StartProducer).
	connectBackoff retry.Backoff

	wake       chan struct{} // capacity 1: the feeder may have work
	stop       chan struct{} // closed by Close: the feeder returns
	feederDone chan struct{}
	readers    sync.WaitGroup
	closeOnce  sync.Once

	mu           sync.Mutex
	resend       deque[*item] // failed sends waiting to be sent again, by seq; all older than queue
	queue        deque[*item] // never sent yet, by seq (oldest first)
	nextSeq      uint64
	inFlight     int         // handed to sarama, outcome not known yet
	gen          *generation // current sarama producer, nil until connected; only the feeder sets it
	recreate     bool        // the feeder should replace gen
	backoff      time.Duration
	retryAt      time.Time // nothing is sent before this, after a failure
	failingSince time.Time // first failure since the last success; zero when healthy
	lastErr      error
	closed       bool
	abandoned    bool          // Close gave up waiting: later outcomes are not counted
	idle         chan struct{} // made by a waiting Flush, closed when nothing is held
	stats        ProducerStats
	droppedSeen  uint64 // stats.Dropped at the last Flush
	unloggedDrop uint64
	lastDropLog  time.Time
	lastErrLog   time.Time
}

// generation is one sarama producer and the client it owns (nil in tests).
type generation struct {
	client sarama.Client
	ap     sarama.AsyncProducer
}

// NewProducer connects to the cluster, checks that popts.Topic exists and
// returns a Producer. logger receives warnings about failures and drops. It
// returns ctx's error when ctx ends first (a signal during start-up).
func NewProducer(ctx context.Context, opts Options, popts ProducerOptions, logger *slog.Logger) (*Producer, error) {
	popts, newGen, err := producerFactory(opts, popts)
	if err != nil {
		return nil, err
	}
	g, err := newGen(ctx)
	if err != nil {
		return nil, err
	}
	return startProducer(opts, popts, logger, newGen, g), nil
}

// StartProducer returns a Producer at once, without waiting for the cluster:
// Publish buffers from the start, and the Producer connects in the
// background, trying again with backoff (one warning per attempt, saying
// that Kafka is unreachable and how many results wait) until it succeeds or
// Close is called. Only an invalid configuration is an error here. For
// long-running checkers, which must check while the broker is away.
func StartProducer(opts Options, popts ProducerOptions, logger *slog.Logger) (*Producer, error) {
	popts, newGen, err := producerFactory(opts, popts)
	if err != nil {
		return nil, err
	}
	return startProducer(opts, popts, logger, newGen, nil), nil
}

// producerFactory checks the options and returns them with their defaults
// and the function that makes one sarama producer.
func producerFactory(opts Options, popts ProducerOptions) (ProducerOptions, func(context.Context) (*generation, error), error) {
	popts, codec, err := popts.withDefaults()
	if err != nil {
		return popts, nil, err
	}
	cfg, err := newProducerConfig(opts, codec, popts.Linger)
	if err != nil {
		return popts, nil, err
	}
	cfg.Producer.Return.Successes = true
	newGen := func(ctx context.Context) (*generation, error) {
		return connectGeneration(ctx, opts, cfg, popts.Topic)
	}
	return popts, newGen, nil
}

// connectGeneration makes a client and an async producer on it once topic is
// in the cluster metadata. sarama's constructors take no context, so when
// ctx ends first it returns ctx's error at once and leaves the attempt to
// finish, and close what it made, in the background.
func connectGeneration(ctx context.Context, opts Options, cfg *sarama.Config, topic string) (*generation, error) {
	type outcome struct {
		g   *generation
		err error
	}
	done := make(chan outcome, 1)
	attempt, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		client, err := sarama.NewClient(opts.brokers(), cfg)
		if err != nil {
			done <- outcome{err: opts.wrap("connect producer", err)}
			return
		}
		opts.markClient(client)
		if err := waitForTopic(attempt, client, topic, topicWait); err != nil {
			_ = client.Close()
			done <- outcome{err: opts.wrap("", err)}
			return
		}
		ap, err := sarama.NewAsyncProducerFromClient(client)
		if err != nil {
			_ = client.Close()
			done <- outcome{err: opts.wrap("create producer", err)}
			return
		}
		done <- outcome{g: &generation{client: client, ap: ap}}
	}()
	select {
	case o := <-done:
		return o.g, o.err
	case <-ctx.Done():
		go func() {
			if o := <-done; o.g != nil {
				_ = o.g.ap.Close()
				_ = o.g.client.Close()
			}
		}()
		return nil, fmt.Errorf("kafka: connect producer: %w", ctx.Err())
	}
}

// topicWait is how long NewProducer waits for its topic to show up in the
// cluster metadata (a topic just created takes a moment to reach every broker).
const topicWait = 5 * time.Second

// waitForTopic returns nil once topic is in client's metadata, or an error
// saying it does not exist after wait, or ctx's error when ctx ends first.
func waitForTopic(ctx context.Context, client sarama.Client, topic string, wait time.Duration) error {
	deadline := time.Now().Add(wait)
	for {
		topics, err := client.Topics()
		if err != nil {
			return fmt.Errorf("list topics: %w", err)
		}
		if slices.Contains(topics, topic) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("kafka: topic %q does not exist: create it first (automatic topic creation is off here)", topic)
		}
		if !retry.Sleep(ctx, 250*time.Millisecond) {
			return fmt.Errorf("kafka: wait for topic %q: %w", topic, ctx.Err())
		}
		if err := client.RefreshMetadata(); err != nil {
			return fmt.Errorf("refresh metadata: %w", err)
		}
	}
}

// withDefaults fills in the defaults of o and checks it.
func (o ProducerOptions) withDefaults() (ProducerOptions, sarama.CompressionCodec, error) {
	if o.Topic == "" {
		return o, 0, errors.New("kafka: producer: no topic given")
	}
	if o.Buffer <= 0 {
		o.Buffer = DefaultProducerBuffer
	}
	if o.Linger <= 0 {
		o.Linger = DefaultLinger
	}
	if o.FlushTimeout <= 0 {
		o.FlushTimeout = DefaultFlushTimeout
	}
	codec, err := compressionCodec(o.Compression)
	return o, codec, err
}

// startProducer makes a Producer and starts it on g (see start).
func startProducer(opts Options, popts ProducerOptions, logger *slog.Logger, newGen func(context.Context) (*generation, error), g *generation) *Producer {
	p := newProducer(opts, popts, logger, newGen)
	p.start(g)
	return p
}

// newProducer makes a Producer that is not started yet. popts has its defaults.
func newProducer(opts Options, popts ProducerOptions, logger *slog.Logger, newGen func(context.Context) (*generation, error)) *Producer {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Producer{
		opts:           opts,
		popts:          popts,
		logger:         logger.With("topic", popts.Topic),
		newGen:         newGen,
		connectBackoff: connectBackoff,
		wake:           make(chan struct{}, 1),
		stop:           make(chan struct{}),
		feederDone:     make(chan struct{}),
	}
}

// start starts the Producer's goroutines on g, the first sarama producer,
// or, when g is nil, on one the feeder makes with newGen as soon as the
// cluster answers.
func (p *Producer) start(g *generation) {
	if g != nil {
		p.gen = g
		p.startReaders(g)
	}
	go p.feed()
}

// newProducerConfig is the configuration of the idempotent producers.
func newProducerConfig(opts Options, codec sarama.CompressionCodec, linger time.Duration) (*sarama.Config, error) {
	cfg, err := NewConfig(opts)
	if err != nil {
		return nil, err
	}
	cfg.Producer.Idempotent = true
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Net.MaxOpenRequests = 1
	cfg.Producer.Retry.Max = 6
	cfg.Producer.Retry.BackoffFunc = func(retries, _ int) time.Duration {
		return min(100*time.Millisecond<<retries, 2*time.Second)
	}
	cfg.Producer.Compression = codec
	if codec == sarama.CompressionZSTD {
		// zstd's fastest level: results are small JSON documents in small
		// batches, where the default level costs about twice the CPU (3% of
		// a checker's, profiled under load) for a few percent of size.
		cfg.Producer.CompressionLevel = zstdFastest
	}
	cfg.Producer.Partitioner = sarama.NewHashPartitioner
	cfg.Producer.Flush.Frequency = linger
	cfg.Producer.Return.Errors = true
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("kafka: invalid producer configuration: %w", err)
	}
	return cfg, nil
}

// zstdFastest is the zstd level sarama maps to klauspost's SpeedFastest.
const zstdFastest = 1

// compressionCodec maps ProducerOptions.Compression to sarama's codec.
func compressionCodec(name string) (sarama.CompressionCodec, error) {
	switch strings.ToLower(name) {
	case "", "zstd":
		return sarama.CompressionZSTD, nil
	case "lz4":
		return sarama.CompressionLZ4, nil
	case "snappy":
		return sarama.CompressionSnappy, nil
	case "gzip":
		return sarama.CompressionGZIP, nil
	case "none":
		return sarama.CompressionNone, nil
	}
	return sarama.CompressionNone, fmt.Errorf("kafka: unknown compression %q (want zstd, lz4, snappy, gzip or none)", name)
}

// Publish queues the record key, value for the topic and returns at once;
// the key chooses the partition (its hash). The outcome shows in Stats, in
// the log, and in what Flush returns. The Producer keeps key and value as
// they are: the caller must not change them afterwards.
func (p *Producer) Publish(ctx context.Context, key, value []byte) {
	_ = ctx // Publish never waits; ctx is for symmetry with other sinks.
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		p.stats.Dropped++
		p.noteDropLocked(1, "producer closed")
		return
	}
	p.stats.Published++
	p.nextSeq++
	p.queue.pushBack(&item{key: key, value: value, seq: p.nextSeq})
	p.trimLocked()
	p.wakeFeeder()
}

// wakeFeeder tells the feeder to look at the queue again.
func (p *Producer) wakeFeeder() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// waitingLocked is how many results wait to be handed to sarama.
func (p *Producer) waitingLocked() int { return p.resend.len() + p.queue.len() }

// heldLocked is how many results are held: waiting or in flight.
func (p *Producer) heldLocked() int { return p.waitingLocked() + p.inFlight }

// popOldestLocked removes and returns the oldest waiting result: failed
// sends come before results never sent, as they are older.
func (p *Producer) popOldestLocked() *item {
	if p.resend.len() > 0 {
		return p.resend.popFront()
	}
	return p.queue.popFront()
}

// requeueLocked puts a result whose send failed back among the waiting ones,
// in Publish order: failures of one batch come back one by one, and a
// result's place is by its seq, so m1, m2, m3 are re-sent as m1, m2, m3 (one
// site's results stay in order on its partition).
func (p *Producer) requeueLocked(it *item) {
	i := p.resend.len()
	for i > 0 && p.resend.at(i-1).seq > it.seq {
		i--
	}
	p.resend.insert(i, it)
}

// trimLocked drops the oldest waiting results while more than Buffer are held.
func (p *Producer) trimLocked() {
	n := 0
	for p.waitingLocked() > 0 && p.heldLocked() > p.popts.Buffer {
		p.popOldestLocked()
		n++
	}
	if n > 0 {
		p.stats.Dropped += uint64(n)
		p.noteDropLocked(n, "buffer full")
	}
}

// noteDropLocked logs drops, at most one warning per logEvery.
func (p *Producer) noteDropLocked(n int, why string) {
	p.unloggedDrop += uint64(n)
	if now := time.Now(); now.Sub(p.lastDropLog) >= logEvery {
		p.logger.Warn("kafka producer dropped results", "reason", why, "dropped", p.unloggedDrop,
			"dropped_total", p.stats.Dropped, "buffer", p.popts.Buffer, "last_err", p.explainLast())
		p.unloggedDrop = 0
		p.lastDropLog = now
	}
}

func (p *Producer) explainLast() string {
	if p.lastErr == nil {
		return ""
	}
	return p.opts.Explain(p.lastErr)
}

// feed connects when the Producer has no sarama producer yet, then hands
// waiting results to the current sarama producer, oldest first, respecting
// the re-send backoff, and replaces the sarama producer when asked. It is the
// only goroutine that writes to a sarama producer's Input or closes one
// before Close, so a replaced producer is never written to after AsyncClose.
func (p *Producer) feed() {
	defer close(p.feederDone)
	// ctx ends with Close: it bounds the attempts to connect.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-p.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	defer func() {
		// The feeder owns the last write to Input, so it closes the producer.
		p.mu.Lock()
		g := p.gen
		p.mu.Unlock()
		if g != nil {
			g.ap.AsyncClose()
		}
	}()
	p.mu.Lock()
	connected := p.gen != nil
	p.mu.Unlock()
	if !connected && !p.connect(ctx) {
		return
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		select {
		case <-p.stop:
			return
		default:
		}
		p.mu.Lock()
		if p.recreate {
			p.recreate = false
			p.mu.Unlock()
			p.replace(ctx)
			continue
		}
		now := time.Now()
		if p.waitingLocked() == 0 || now.Before(p.retryAt) {
			wait := time.Hour
			if p.waitingLocked() > 0 {
				wait = p.retryAt.Sub(now)
			}
			p.mu.Unlock()
			timer.Reset(wait)
			select {
			case <-p.wake:
			case <-timer.C:
			case <-p.stop:
				return
			}
			timer.Stop()
			continue
		}
		it := p.popOldestLocked()
		p.inFlight++
		ap := p.gen.ap
		p.mu.Unlock()

		msg := &sarama.ProducerMessage{
			Topic:    p.popts.Topic,
			Key:      sarama.ByteEncoder(it.key),
			Value:    sarama.ByteEncoder(it.value),
			Metadata: it,
		}
		select {
		case ap.Input() <- msg:
		case <-p.stop:
			p.mu.Lock()
			if !p.abandoned {
				p.inFlight--
				p.requeueLocked(it)
			}
			p.mu.Unlock()
			return
		}
	}
}

// connect makes the first sarama producer, trying again with backoff while
// the cluster cannot be reached or the topic is missing, with one warning per
// attempt. Results published meanwhile wait in the buffer. It reports false
// when ctx ended (Close) first.
func (p *Producer) connect(ctx context.Context) bool {
	began := time.Now()
	for attempt := 0; ; attempt++ {
		g, err := p.newGen(ctx)
		if err == nil {
			p.mu.Lock()
			p.gen = g
			pending := p.heldLocked()
			p.mu.Unlock()
			p.startReaders(g)
			if attempt > 0 {
				p.logger.Info("kafka producer connected", "unreachable_for", time.Since(began).Round(time.Millisecond).String(), "pending", pending)
			}
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		wait := p.connectBackoff.Delay(attempt)
		p.mu.Lock()
		p.lastErr = err
		pending := p.heldLocked()
		p.mu.Unlock()
		p.logger.Warn("kafka unreachable; results wait in the buffer", "err", p.opts.Explain(err),
			"attempt", attempt+1, "pending", pending, "buffer", p.popts.Buffer, "retry_in", wait.String())
		if !retry.Sleep(ctx, wait) {
			return false
		}
	}
}

// replace swaps the sarama producer for a new one and closes the old one in
// the background; its in-flight results come back through its channels and
// are re-sent. When the new one cannot be made, the old one stays.
func (p *Producer) replace(ctx context.Context) {
	g, err := p.newGen(ctx)
	p.mu.Lock()
	if err != nil {
		p.failingSince = time.Now() // try again after another recreateAfter
		p.mu.Unlock()
		if ctx.Err() == nil {
			p.logger.Warn("kafka producer: cannot recreate the sarama producer; keeping the old one", "err", p.opts.Explain(err))
		}
		return
	}
	old := p.gen
	p.gen = g
	p.stats.Recreated++
	p.mu.Unlock()
	p.startReaders(g)
	old.ap.AsyncClose()
	p.logger.Info("kafka producer: replaced the sarama producer after persistent failures")
}

// startReaders reads both channels of g (sarama deadlocks otherwise) and
// closes g's client once both are closed.
func (p *Producer) startReaders(g *generation) {
	var wg sync.WaitGroup
	wg.Add(2)
	p.readers.Add(1)
	go func() {
		defer wg.Done()
		for m := range g.ap.Successes() {
			p.onSuccess(m)
		}
	}()
	go func() {
		defer wg.Done()
		for e := range g.ap.Errors() {
			p.onError(e)
		}
	}()
	go func() {
		defer p.readers.Done()
		wg.Wait()
		if g.client != nil {
			_ = g.client.Close()
		}
	}()
}

func (p *Producer) onSuccess(m *sarama.ProducerMessage) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.abandoned {
		return // counted as dropped by Close
	}
	p.inFlight--
	p.stats.Acked++
	if !p.failingSince.IsZero() {
		p.logger.Info("kafka producer recovered", "failing_for", time.Since(p.failingSince).Round(time.Millisecond).String(),
			"pending", p.heldLocked())
		p.failingSince = time.Time{}
		p.lastErrLog = time.Time{}
	}
	p.backoff = 0
	p.retryAt = time.Time{}
	p.notifyIdleLocked()
}

func (p *Producer) onError(e *sarama.ProducerError) {
	it, _ := e.Msg.Metadata.(*item)
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.abandoned {
		return // counted as dropped by Close
	}
	p.inFlight--
	p.stats.Failed++
	p.lastErr = e.Err
	if it == nil || permanent(e.Err) {
		p.stats.Dropped++
		p.logger.Error("kafka producer: the broker rejected a result for good; dropped", "err", p.opts.Explain(e.Err))
		p.notifyIdleLocked()
		return
	}
	p.requeueLocked(it)
	p.trimLocked()
	p.wakeFeeder()
	if p.failingSince.IsZero() {
		p.failingSince = now
	}
	if !now.Before(p.retryAt) { // one backoff step per wave of failures
		p.backoff = min(max(2*p.backoff, resendBackoffMin), resendBackoffMax)
		p.retryAt = now.Add(p.backoff)
	}
	if fatalForProducer(e.Err) || now.Sub(p.failingSince) > recreateAfter {
		if !p.recreate {
			p.recreate = true
			p.failingSince = now
			p.wakeFeeder()
		}
	}
	if now.Sub(p.lastErrLog) >= logEvery {
		p.logger.Warn("kafka producer: send failed; results kept for re-send", "err", p.opts.Explain(e.Err),
			"pending", p.heldLocked(), "retry_in", p.backoff.String())
		p.lastErrLog = now
	}
	p.notifyIdleLocked()
}

// permanent reports errors that a re-send cannot fix.
func permanent(err error) bool {
	var cfgErr sarama.ConfigurationError
	var encErr sarama.PacketEncodingError
	return errors.As(err, &cfgErr) || errors.As(err, &encErr) ||
		errors.Is(err, sarama.ErrMessageSizeTooLarge) || errors.Is(err, sarama.ErrInvalidMessage)
}

// fatalForProducer reports errors after which the idempotent producer's
// identity is in doubt, so a fresh sarama producer (new producer id) is used.
func fatalForProducer(err error) bool {
	return errors.Is(err, sarama.ErrOutOfOrderSequenceNumber) || errors.Is(err, sarama.ErrInvalidProducerEpoch) ||
		errors.Is(err, sarama.ErrUnknownProducerID) || errors.Is(err, sarama.ErrProducerFenced) ||
		errors.Is(err, sarama.ErrInvalidProducerIDMapping) || errors.Is(err, sarama.ErrClosedClient)
}

// notifyIdleLocked wakes a waiting Flush when nothing is held any more.
func (p *Producer) notifyIdleLocked() {
	if p.idle != nil && p.heldLocked() == 0 {
		close(p.idle)
		p.idle = nil
	}
}

// Flush waits until every published result was acknowledged by the broker or
// given up on, or ctx ends (FlushTimeout bounds a ctx without deadline). It
// returns nil only when nothing is held and no result was dropped since the
// previous Flush; otherwise an error saying how many results were not
// acknowledged or were dropped, and why.
func (p *Producer) Flush(ctx context.Context) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, p.popts.FlushTimeout)
		defer cancel()
	}
	p.mu.Lock()
	for p.heldLocked() > 0 {
		if p.idle == nil {
			p.idle = make(chan struct{})
		}
		idle := p.idle
		p.mu.Unlock()
		select {
		case <-idle:
		case <-ctx.Done():
			p.mu.Lock()
			pending, last := p.heldLocked(), p.explainLast()
			p.mu.Unlock()
			if last != "" {
				return fmt.Errorf("kafka: flush: %d results not acknowledged (last error: %s): %w", pending, last, ctx.Err())
			}
			return fmt.Errorf("kafka: flush: %d results not acknowledged: %w", pending, ctx.Err())
		}
		p.mu.Lock()
	}
	dropped := p.stats.Dropped - p.droppedSeen
	p.droppedSeen = p.stats.Dropped
	last := p.explainLast()
	p.mu.Unlock()
	if dropped > 0 {
		if last != "" {
			return fmt.Errorf("kafka: flush: %d results were dropped (buffer of %d full, rejected, or published after Close; last error: %s)", dropped, p.popts.Buffer, last)
		}
		return fmt.Errorf("kafka: flush: %d results were dropped (buffer of %d full, rejected, or published after Close)", dropped, p.popts.Buffer)
	}
	return nil
}

// Close flushes (see Flush), then closes the sarama producer and its client.
// Results still held when ctx ends are lost and counted as dropped. Publish
// after Close drops the result. Closing twice returns nil.
func (p *Producer) Close(ctx context.Context) error {
	err := errAlreadyClosed
	p.closeOnce.Do(func() { err = p.close(ctx) })
	if errors.Is(err, errAlreadyClosed) {
		return nil
	}
	return err
}

var errAlreadyClosed = errors.New("already closed")

func (p *Producer) close(ctx context.Context) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, p.popts.FlushTimeout)
		defer cancel()
	}
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	flushErr := p.Flush(ctx)

	close(p.stop) // the feeder returns at once and closes the sarama producer
	<-p.feederDone
	readersDone := make(chan struct{})
	go func() {
		p.readers.Wait()
		close(readersDone)
	}()
	var closeErr error
	select {
	case <-readersDone:
	case <-ctx.Done():
		closeErr = fmt.Errorf("kafka: close producer: %w", ctx.Err())
	}
	// Whatever is still held now is lost: results waiting, and results in
	// flight whose outcome did not come before the deadline. Outcomes that
	// arrive later are not counted, so every published result ends up either
	// acknowledged or dropped.
	p.mu.Lock()
	waiting, inFlight := p.waitingLocked(), p.inFlight
	if lost := waiting + inFlight; lost > 0 {
		p.stats.Dropped += uint64(lost)
		p.logger.Error("kafka producer closed with results not acknowledged; dropped", "lost", lost,
			"never_sent", waiting, "in_flight", inFlight, "dropped_total", p.stats.Dropped, "last_err", p.explainLast())
		p.resend, p.queue, p.inFlight = deque[*item]{}, deque[*item]{}, 0
		p.notifyIdleLocked()
	}
	p.abandoned = true
	p.mu.Unlock()
	return errors.Join(flushErr, closeErr)
}

// Stats returns the Producer's counters.
func (p *Producer) Stats() ProducerStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.stats
	s.Pending = p.heldLocked()
	return s
}

// deque is a double-ended queue on a growable ring buffer.
type deque[T any] struct {
	buf  []T
	head int
	n    int
}

func (d *deque[T]) len() int { return d.n }

func (d *deque[T]) grow() {
	if d.n < len(d.buf) {
		return
	}
	nb := make([]T, max(16, 2*len(d.buf)))
	for i := 0; i < d.n; i++ {
		nb[i] = d.buf[(d.head+i)%len(d.buf)]
	}
	d.buf, d.head = nb, 0
}

func (d *deque[T]) pushBack(v T) {
	d.grow()
	d.buf[(d.head+d.n)%len(d.buf)] = v
	d.n++
}

// at returns the i-th element from the front.
func (d *deque[T]) at(i int) T { return d.buf[(d.head+i)%len(d.buf)] }

// insert puts v at index i (0 <= i <= len), shifting the later elements
// back: cheap near the back, where re-sent results usually go.
func (d *deque[T]) insert(i int, v T) {
	d.grow()
	for j := d.n; j > i; j-- {
		d.buf[(d.head+j)%len(d.buf)] = d.buf[(d.head+j-1)%len(d.buf)]
	}
	d.buf[(d.head+i)%len(d.buf)] = v
	d.n++
}

func (d *deque[T]) popFront() T {
	var zero T
	v := d.buf[d.head]
	d.buf[d.head] = zero
	d.head = (d.head + 1) % len(d.buf)
	d.n--
	if d.n == 0 {
		d.head = 0
	}
	return v
}
