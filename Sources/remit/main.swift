import RemitCLI

await Remit.main()
