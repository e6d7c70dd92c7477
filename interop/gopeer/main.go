// gopeer is a small stand-in for a Go service built on HPE CSM's Go msgbus
// (github.com/Cray-HPE/hms-msgbus). That module is not served by the Go module
// proxy here, so this peer uses confluent-kafka-go/v2 (librdkafka, as the Go
// original does) with the Go original's settings:
//
//   - writer: a producer with bootstrap.servers only; a Blocking write
//     produces one message and waits for its report on a delivery channel;
//   - reader: auto.offset.reset=latest, session.timeout.ms=10000,
//     auto-commit on, a unique group id when none is given; empty messages
//     are dropped, as the Go original drops them.
//
// Messages travel as hex, one per line, on stdin and stdout, so that
// multi-line, binary and empty payloads compare byte for byte.
//
//	gopeer write -brokers B -topic T [hex ...]     (no hex args: hex lines from stdin)
//	gopeer read  -brokers B -topic T [-group G] [-n N] [-timeout S]
//
// read prints each message as a hex line. It stops after N messages, or when
// stdin reaches end of file (-n 0), or after -timeout seconds (exit 3).
// Partition assignments are reported on stderr as "assigned [p ...]".
package main

import (
	"bufio"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "gopeer: "+format+"\n", args...)
	os.Exit(1)
}

func main() {
	if len(os.Args) < 2 {
		fail("usage: gopeer write|read -brokers B -topic T ...")
	}
	flags := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	brokers := flags.String("brokers", "localhost:9092", "bootstrap servers")
	topic := flags.String("topic", "", "topic")
	group := flags.String("group", "", "reader group id (empty: a unique one)")
	count := flags.Int("n", 0, "messages to read (0: until stdin closes)")
	timeout := flags.Float64("timeout", 60, "seconds a reader runs at most")
	if err := flags.Parse(os.Args[2:]); err != nil || *topic == "" {
		fail("-topic is required")
	}
	switch os.Args[1] {
	case "write":
		write(*brokers, *topic, flags.Args())
	case "read":
		read(*brokers, *topic, *group, *count, *timeout)
	default:
		fail("unknown command %q", os.Args[1])
	}
}

func payloads(args []string) [][]byte {
	var lines []string
	if len(args) > 0 {
		lines = args
	} else {
		scanner := bufio.NewScanner(os.Stdin)
		scanner.Buffer(make([]byte, 1<<20), 8<<20)
		for scanner.Scan() {
			lines = append(lines, scanner.Text())
		}
		if err := scanner.Err(); err != nil {
			fail("reading stdin: %v", err)
		}
	}
	out := make([][]byte, 0, len(lines))
	for _, line := range lines {
		value, err := hex.DecodeString(strings.TrimSpace(line))
		if err != nil {
			fail("not hex: %v", err)
		}
		out = append(out, value)
	}
	return out
}

func write(brokers, topic string, args []string) {
	messages := payloads(args)
	producer, err := kafka.NewProducer(&kafka.ConfigMap{"bootstrap.servers": brokers})
	if err != nil {
		fail("producer: %v", err)
	}
	defer producer.Close()
	delivery := make(chan kafka.Event, 1)
	for i, value := range messages {
		msg := &kafka.Message{
			TopicPartition: kafka.TopicPartition{Topic: &topic, Partition: kafka.PartitionAny},
			Value:          value,
		}
		if err := producer.Produce(msg, delivery); err != nil {
			fail("produce %d: %v", i, err)
		}
		report := (<-delivery).(*kafka.Message)
		if report.TopicPartition.Error != nil {
			fail("delivery %d: %v", i, report.TopicPartition.Error)
		}
	}
	fmt.Fprintf(os.Stderr, "wrote %d\n", len(messages))
}

func read(brokers, topic, group string, count int, timeout float64) {
	if group == "" {
		group = fmt.Sprintf("gopeer-%d-%d", os.Getpid(), time.Now().UnixNano())
	}
	consumer, err := kafka.NewConsumer(&kafka.ConfigMap{
		"bootstrap.servers":  brokers,
		"group.id":           group,
		"auto.offset.reset":  "latest",
		"session.timeout.ms": 10000,
	})
	if err != nil {
		fail("consumer: %v", err)
	}
	defer consumer.Close()
	rebalance := func(c *kafka.Consumer, ev kafka.Event) error {
		switch e := ev.(type) {
		case kafka.AssignedPartitions:
			fmt.Fprintf(os.Stderr, "assigned %v\n", partitions(e.Partitions))
		case kafka.RevokedPartitions:
			fmt.Fprintf(os.Stderr, "revoked %v\n", partitions(e.Partitions))
		}
		return nil
	}
	if err := consumer.SubscribeTopics([]string{topic}, rebalance); err != nil {
		fail("subscribe: %v", err)
	}
	stdinClosed := make(chan struct{})
	if count == 0 {
		go func() {
			buf := make([]byte, 4096)
			for {
				if _, err := os.Stdin.Read(buf); err != nil {
					close(stdinClosed)
					return
				}
			}
		}()
	}
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	deadline := time.Now().Add(time.Duration(timeout * float64(time.Second)))
	got := 0
	for count == 0 || got < count {
		select {
		case <-stdinClosed:
			return
		default:
		}
		if time.Now().After(deadline) {
			out.Flush()
			fmt.Fprintf(os.Stderr, "timed out after %d message(s)\n", got)
			consumer.Close()
			os.Exit(3)
		}
		ev := consumer.Poll(100)
		switch e := ev.(type) {
		case *kafka.Message:
			if len(e.Value) == 0 {
				continue // the Go original drops empty messages
			}
			fmt.Fprintln(out, hex.EncodeToString(e.Value))
			out.Flush()
			got++
		case kafka.Error:
			fmt.Fprintf(os.Stderr, "error: %v\n", e)
		}
	}
}

func partitions(tps []kafka.TopicPartition) []int32 {
	out := make([]int32, 0, len(tps))
	for _, tp := range tps {
		out = append(out, tp.Partition)
	}
	return out
}
