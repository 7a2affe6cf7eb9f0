# Module manifest for Omr: tests SMTP servers for open relay.
# build.ps1 copies this file into out/Omr/ next to Omr.dll (the cmdlets) and Omr.Init.psm1
# (src/Omr/Loader/). The dependencies (Omr.Engine, MailKit, MimeKit, DnsClient, ...) live in
# out/Omr/dependencies/. Omr.Init.psm1, loaded first as the nested module, makes Omr.dll's
# Omr.Loader.ModuleInitializer resolve them: in their own AssemblyLoadContext on PowerShell 7,
# via AppDomain.AssemblyResolve on Windows PowerShell 5.1.
@{
    RootModule           = 'Omr.dll'
    NestedModules        = @('Omr.Init.psm1')
    ModuleVersion        = '0.1.0'
    GUID                 = '8765a72b-628b-4dc8-8816-9712f5e28ccd'
    Author               = 'Omr contributors'
    CompanyName          = 'Omr contributors'
    Copyright            = '(c) Omr contributors.'
    Description          = 'Tests SMTP servers for open relay: finds the mail hosts of a domain (or takes hosts directly), runs a catalogue of non-intrusive relay tests (RCPT only, never DATA) against every address and returns one result object per address with its verdict and full transcript.'
    CompatiblePSEditions = @('Core', 'Desktop')
    PowerShellVersion    = '5.1'
    DotNetFrameworkVersion = '4.7.2'
    FormatsToProcess     = @('Omr.Format.ps1xml')
    CmdletsToExport      = @('Test-OpenRelay', 'Get-RelayEvidence', 'Send-RelayNotice', 'Get-RelayHistory')
    FunctionsToExport    = @()
    AliasesToExport      = @()
    VariablesToExport    = @()
    PrivateData          = @{
        PSData = @{
            Tags         = @('SMTP', 'OpenRelay', 'Relay', 'Mail', 'Security', 'Exchange', 'Postfix', 'PSEdition_Core', 'PSEdition_Desktop', 'Windows', 'Linux', 'MacOS')
            ReleaseNotes = '0.1.0: Test-OpenRelay (MX discovery, relay-test catalogue, verdicts, transcripts); Get-RelayEvidence.'
        }
    }
}
