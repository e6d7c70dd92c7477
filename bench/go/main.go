// Command msgbus-bench measures the Go original's way of using Kafka for
// msgbus's benchmarks (bench/run.py). github.com/Cray-HPE/hms-msgbus itself is
// not served by the Go module proxy here, so this program reproduces what it
// does on confluent-kafka-go/v2 with its exact settings (see
// shared/spec/go-original.md): a producer with librdkafka's defaults apart from
// bootstrap.servers; Blocking = produce, then wait on the delivery channel;
// NonBlocking = produce, with a goroutine draining Events(); a reader with
// auto.offset.reset=latest and session.timeout.ms=10000 polling in a loop into
// a 1000-entry channel (or calling a callback on the polling goroutine).
//
// Every mode prints one JSON object on stdout.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "msgbus-bench: "+format+"\n", args...)
	os.Exit(1)
}

func emit(v map[string]any) {
	out, err := json.Marshal(v)
	if err != nil {
		fail("json: %v", err)
	}
	fmt.Println(string(out))
}

func newProducer(bootstrap string) *kafka.Producer {
	p, err := kafka.NewProducer(&kafka.ConfigMap{"bootstrap.servers": bootstrap})
	if err != nil {
		fail("producer: %v", err)
	}
	return p
}

func payload(size int) []byte {
	b := make([]byte, size)
	for i := range b {
		b[i] = 'a' + byte(i%26)
	}
	return b
}

// produce retries while the local queue is full, as a caller of the original would have to.
func produce(p *kafka.Producer, msg *kafka.Message, ch chan kafka.Event) {
	for {
		err := p.Produce(msg, ch)
		if err == nil {
			return
		}
		if kerr, ok := err.(kafka.Error); ok && kerr.Code() == kafka.ErrQueueFull {
			time.Sleep(time.Millisecond)
			continue
		}
		fail("produce: %v", err)
	}
}

func percentile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q * float64(len(sorted)-1))
	return sorted[i]
}

func writeNonBlocking(bootstrap, topic string, n, size int) {
	p := newProducer(bootstrap)
	defer p.Close()
	value := payload(size)
	done := make(chan time.Time)
	failed := 0
	go func() {
		delivered := 0
		for ev := range p.Events() {
			if m, ok := ev.(*kafka.Message); ok {
				if m.TopicPartition.Error != nil {
					failed++
				}
				delivered++
				if delivered == n {
					done <- time.Now()
					return
				}
			}
		}
	}()
	start := time.Now()
	for i := 0; i < n; i++ {
		produce(p, &kafka.Message{TopicPartition: kafka.TopicPartition{Topic: &topic, Partition: kafka.PartitionAny}, Value: value}, nil)
	}
	end := <-done
	secs := end.Sub(start).Seconds()
	emit(map[string]any{"messages": n, "seconds": secs, "rate": float64(n) / secs, "failed": failed})
}

func writeBlocking(bootstrap, topic string, n, size int) {
	p := newProducer(bootstrap)
	defer p.Close()
	value := payload(size)
	ch := make(chan kafka.Event, 1)
	lat := make([]float64, 0, n)
	start := time.Now()
	for i := 0; i < n; i++ {
		t0 := time.Now()
		produce(p, &kafka.Message{TopicPartition: kafka.TopicPartition{Topic: &topic, Partition: kafka.PartitionAny}, Value: value}, ch)
		ev := <-ch
		if m, ok := ev.(*kafka.Message); !ok || m.TopicPartition.Error != nil {
			fail("delivery: %v", ev)
		}
		lat = append(lat, time.Since(t0).Seconds()*1000)
	}
	secs := time.Since(start).Seconds()
	sort.Float64s(lat)
	emit(map[string]any{"messages": n, "seconds": secs, "rate": float64(n) / secs,
		"p50_ms": percentile(lat, 0.50), "p99_ms": percentile(lat, 0.99)})
}

func newConsumer(bootstrap, topic, reset string) *kafka.Consumer {
	c, err := kafka.NewConsumer(&kafka.ConfigMap{
		"bootstrap.servers":  bootstrap,
		"group.id":           fmt.Sprintf("go-bench-%d", time.Now().UnixNano()),
		"auto.offset.reset":  reset,
		"session.timeout.ms": 10000,
	})
	if err != nil {
		fail("consumer: %v", err)
	}
	if err := c.Subscribe(topic, nil); err != nil {
		fail("subscribe: %v", err)
	}
	return c
}

// pollLoop is the original's reader goroutine: it hands each message's text to deliver.
func pollLoop(c *kafka.Consumer, stop <-chan struct{}, deliver func(string)) {
	for {
		select {
		case <-stop:
			return
		default:
		}
		ev := c.Poll(100)
		if m, ok := ev.(*kafka.Message); ok && m.TopicPartition.Error == nil {
			deliver(string(m.Value))
		}
	}
}

// read measures from the first message to the n-th, through the channel
// (MessageRead) or a callback on the polling goroutine.
func read(bootstrap, topic string, n int, callback bool) {
	c := newConsumer(bootstrap, topic, "earliest")
	defer c.Close()
	stop := make(chan struct{})
	var start, end time.Time
	if callback {
		finished := make(chan struct{})
		count := 0
		go pollLoop(c, stop, func(string) {
			count++
			if count == 1 {
				start = time.Now()
			}
			if count == n {
				end = time.Now()
				close(finished)
			}
		})
		<-finished
	} else {
		queue := make(chan string, 1000)
		go pollLoop(c, stop, func(s string) { queue <- s })
		<-queue
		start = time.Now()
		for i := 1; i < n; i++ {
			<-queue
		}
		end = time.Now()
	}
	close(stop)
	secs := end.Sub(start).Seconds()
	emit(map[string]any{"messages": n, "seconds": secs, "rate": float64(n-1) / secs})
}

// latency: a NonBlocking writer at `rate` msg/s and a callback reader in one
// process; each message carries its send time (Unix ns), padded to 100 bytes.
func latency(bootstrap, topic string, rate, n int) {
	c := newConsumer(bootstrap, topic, "latest")
	defer c.Close()
	lats := make([]float64, 0, n)
	finished := make(chan struct{})
	assigned := make(chan struct{})
	stop := make(chan struct{})
	go func() {
		// Wait for the assignment (the original returns before it; the benchmark must not).
		for len(mustAssignment(c)) == 0 {
			c.Poll(100)
		}
		close(assigned)
		pollLoop(c, stop, func(s string) {
			sent, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
			if err != nil {
				return
			}
			lats = append(lats, float64(time.Now().UnixNano()-sent)/1e6)
			if len(lats) == n {
				close(finished)
			}
		})
	}()
	<-assigned
	time.Sleep(500 * time.Millisecond) // let the start position settle
	p := newProducer(bootstrap)
	defer p.Close()
	go func() {
		for range p.Events() {
		}
	}()
	// Untimed: the first write also fetches the topic's metadata.
	warm := []byte("warm-up")
	for i := 0; i < 10; i++ {
		produce(p, &kafka.Message{TopicPartition: kafka.TopicPartition{Topic: &topic, Partition: kafka.PartitionAny}, Value: warm}, nil)
	}
	p.Flush(30000)
	interval := time.Second / time.Duration(rate)
	start := time.Now()
	for i := 0; i < n; i++ {
		due := start.Add(time.Duration(i) * interval)
		if d := time.Until(due); d > 0 {
			time.Sleep(d)
		}
		text := fmt.Sprintf("%-100d", time.Now().UnixNano())
		produce(p, &kafka.Message{TopicPartition: kafka.TopicPartition{Topic: &topic, Partition: kafka.PartitionAny}, Value: []byte(text)}, nil)
	}
	select {
	case <-finished:
	case <-time.After(30 * time.Second):
		fail("latency: only %d of %d messages arrived", len(lats), n)
	}
	close(stop)
	sort.Float64s(lats)
	emit(map[string]any{"messages": n, "p50_ms": percentile(lats, 0.50), "p99_ms": percentile(lats, 0.99),
		"p999_ms": percentile(lats, 0.999)})
}

func mustAssignment(c *kafka.Consumer) []kafka.TopicPartition {
	a, err := c.Assignment()
	if err != nil {
		fail("assignment: %v", err)
	}
	return a
}

func main() {
	bootstrap := flag.String("bootstrap", "127.0.0.1:9092", "bootstrap servers")
	topic := flag.String("topic", "", "topic")
	n := flag.Int("n", 1000, "messages")
	size := flag.Int("size", 100, "message size in bytes")
	rate := flag.Int("rate", 1000, "messages per second (latency)")
	flag.Parse()
	if flag.NArg() != 1 || *topic == "" {
		fail("usage: msgbus-bench [flags] write-nb|write-blocking|read|read-cb|latency|version")
	}
	switch flag.Arg(0) {
	case "write-nb":
		writeNonBlocking(*bootstrap, *topic, *n, *size)
	case "write-blocking":
		writeBlocking(*bootstrap, *topic, *n, *size)
	case "read":
		read(*bootstrap, *topic, *n, false)
	case "read-cb":
		read(*bootstrap, *topic, *n, true)
	case "latency":
		latency(*bootstrap, *topic, *rate, *n)
	case "version":
		_, lib := kafka.LibraryVersion()
		emit(map[string]any{"go": runtime.Version(), "librdkafka": lib})
	default:
		fail("unknown mode %q", flag.Arg(0))
	}
}
