package main

// pluginVersion is the @pulumi/command release this provider stands in for: the SDK asks the engine
// for exactly this plugin version.
const pluginVersion = "1.2.1"

// The resource types served, with upstream v1.2.1's tokens.
const (
	typeCommand      = "command:remote:Command"
	typeCopyToRemote = "command:remote:CopyToRemote"
	typeCopyFile     = "command:remote:CopyFile"
	typeLocalCommand = "command:local:Command"
)

// schemaJSON is a minimal package schema: the engine only asks for it for codegen and `pulumi
// package`, never to run a program, so it names the package and its resources without repeating
// upstream's documentation.
const schemaJSON = `{
  "name": "command",
  "version": "` + pluginVersion + `",
  "description": "smith's command provider: remote.Command, remote.CopyToRemote, remote.CopyFile over SSH and local.Command.",
  "resources": {
    "command:remote:Command": {"description": "Runs commands on a remote host over SSH.", "inputProperties": {}, "properties": {}},
    "command:remote:CopyToRemote": {"description": "Copies a local file or directory to a remote host over SFTP.", "inputProperties": {}, "properties": {}},
    "command:remote:CopyFile": {"description": "Copies a local file to a remote host (deprecated upstream: use CopyToRemote).", "inputProperties": {}, "properties": {}},
    "command:local:Command": {"description": "Runs commands on the machine running Pulumi.", "inputProperties": {}, "properties": {}}
  }
}`
