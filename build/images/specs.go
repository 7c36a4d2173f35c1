package main

// imageSpec says what goes into one image.
type imageSpec struct {
	name        string   // image name, and the binary's name
	description string   // org.opencontainers.image.description
	pkg         string   // Go package of the binary, relative to the root
	tags        []string // build tags
	versionVar  string   // package variable that -X sets to the version, if any
	// devOnly are globs of files in pkg that the build tags must leave
	// out; each must say //go:build !nodev.
	devOnly []string
}

// binaryDir is where the binary sits in the image; the entrypoint is
// binaryDir/<name>.
const binaryDir = "/usr/local/bin"

// The non-root user every image runs as: numeric, so that Kubernetes can
// check runAsNonRoot without reading /etc/passwd, and present in
// /etc/passwd for tools that look a name up.
const (
	uid      = 65532
	userName = "nonroot"
	home     = "/home/nonroot"
)

var images = []imageSpec{
	{
		name:        "kinship",
		description: "Kinship: the members, events, communications and partners services and the Temporal worker, one subcommand each.",
		pkg:         "./cmd/kinship",
		// Leaves out `kinship dev` and `kinship bench`, which embed a
		// Temporal server, a Kafka broker and a mail sink.
		tags:       []string{"nodev"},
		versionVar: "main.version",
		devOnly:    []string{"dev*.go", "bench*.go"},
	},
	{
		name:        "kinship-operator",
		description: "The Kinship operator: reconciles each Community into an isolated Kinship instance.",
		pkg:         "./operator/cmd",
	},
}
