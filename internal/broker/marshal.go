package broker

import (
	wmnats "github.com/ThreeDotsLabs/watermill-nats/v2/pkg/nats"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go"
)

// subjectMarshaler keeps watermill topics logical ("deliveries") while the
// wire subject carries the configured prefix ("kopir.deliveries"), so two
// buses or test runs can share one NATS server. Payload and metadata use
// NATS headers (watermill-nats' NATSMarshaler): no extra encoding cost.
type subjectMarshaler struct {
	prefix string
	wmnats.NATSMarshaler
}

func (m *subjectMarshaler) Marshal(topic string, msg *message.Message) (*nats.Msg, error) {
	if err := validTopic(topic); err != nil {
		return nil, err
	}
	nm, err := m.NATSMarshaler.Marshal(topic, msg)
	if err != nil {
		return nil, err
	}
	nm.Subject = m.prefix + "." + topic
	return nm, nil
}

func (m *subjectMarshaler) Unmarshal(nm *nats.Msg) (*message.Message, error) {
	return m.NATSMarshaler.Unmarshal(nm)
}
