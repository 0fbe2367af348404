package kafka

import (
	"errors"
	"fmt"
	"testing"

	"github.com/IBM/sarama"
)

func TestLeaderMoving(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{sarama.ErrNotLeaderForPartition, true},
		{fmt.Errorf("offset: %w", sarama.ErrLeaderNotAvailable), true},
		{sarama.ErrUnknownTopicOrPartition, true},
		{sarama.ErrOutOfBrokers, false},
		{sarama.ErrTopicAuthorizationFailed, false},
		{errors.New("connection refused"), false},
	} {
		if got := leaderMoving(tc.err); got != tc.want {
			t.Errorf("leaderMoving(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
