StrataCommand.main()
