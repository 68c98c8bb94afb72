package broker

import (
	"strconv"

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

// MetaDeliveries is the metadata under which a consumed message carries
// how many times the broker has handed it out, this time included: "1" the
// first time. A consumer may trust what it knows of a message's first
// delivery only then.
const MetaDeliveries = "kopir_deliveries"

func (m *subjectMarshaler) Unmarshal(nm *nats.Msg) (*message.Message, error) {
	msg, err := m.NATSMarshaler.Unmarshal(nm)
	if err != nil {
		return nil, err
	}
	if md, err := nm.Metadata(); err == nil {
		msg.Metadata.Set(MetaDeliveries, strconv.FormatUint(md.NumDelivered, 10))
	}
	return msg, nil
}
