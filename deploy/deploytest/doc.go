// Package deploytest holds the tests of the files operators deploy Köpir
// with (deploy/kubernetes, deploy/compose, deploy/systemd,
// deploy/Containerfile): each is parsed strictly and checked against what
// the binary reads and serves, so that a manifest cannot name a variable,
// port or probe path the bus does not have. It has no code of its own;
// the Kubernetes types it parses into are linked by its tests only.
package deploytest
