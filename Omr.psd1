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
    Description          = 'Open-relay testing and monitoring for SMTP servers. Test-OpenRelay finds the mail hosts of a domain (MX records) or takes hosts directly, runs a catalogue of non-intrusive relay tests (MAIL FROM and RCPT TO only, never DATA) against every address and port and returns one result per address with its verdict, reason code and full transcript; -Verify proves a relay with one message to a mailbox you own. Get-RelayEvidence finds that message (IMAP, POP3 or a mail-drop folder) and writes an evidence bundle (transcript, message, evidence.json, report.html). Send-RelayNotice mails the domain''s administrator the evidence and the fix, once. With -StatePath a SQLite state database records every run, so results carry what changed since the last one (Change, OpenSince, NoticedAt, Hidden behind a provider MX) and Get-RelayHistory reads it back. Invoke-RelayMonitor is the service run once by a scheduler (scan, verify, evidence, notices, reminders, follow-ups, a morning report with the trend; exit code 0/1/2), and Export-RelayReport writes that report at any time. Inventories (Get-AcceptedDomain, Get-ExchangeServer, Get-ADDomain, Get-ADComputer) and saved results bind by property name. See about_Omr.'
    CompatiblePSEditions = @('Core', 'Desktop')
    PowerShellVersion    = '5.1'
    DotNetFrameworkVersion = '4.7.2'
    FormatsToProcess     = @('Omr.Format.ps1xml')
    CmdletsToExport      = @('Test-OpenRelay', 'Get-RelayEvidence', 'Send-RelayNotice', 'Get-RelayHistory', 'Invoke-RelayMonitor', 'Export-RelayReport')
    FunctionsToExport    = @()
    AliasesToExport      = @()
    VariablesToExport    = @()
    PrivateData          = @{
        PSData = @{
            Tags         = @('SMTP', 'OpenRelay', 'Relay', 'Mail', 'Email', 'Security', 'Abuse', 'Monitoring', 'MX', 'Exchange', 'Postfix', 'ActiveDirectory', 'PSEdition_Core', 'PSEdition_Desktop', 'Windows', 'Linux', 'MacOS')
            ReleaseNotes = '0.1.0: Test-OpenRelay (MX discovery with IDN, null MX and DNS faults; 25 relay tests; verdicts with a ReasonCode; -Verify with one tokenised message; bounded against hostile servers; one probe session per shared address; -Port and the target properties bind by property name, so saved results re-test what they tested). Get-RelayEvidence (IMAP, POP3, mail drop; Received-chain check; evidence bundles with SHA-256 hashes and report.html). Send-RelayNotice (notices once per host with the state database, -Resolved follow-ups and -EscalateAfter reminders, RFC 2142/SOA contacts, text+HTML or RFC 5965 ARF, -PickupDirectory, ConfirmImpact High). Get-RelayHistory (the recorded runs, results and notices of -StatePath: what changed, open since when, noticed when; see about_Omr_State). Invoke-RelayMonitor (the service in one cmdlet: one Omr.RelayMonitorRun with the counts and an exit code; -WhatIf sends nothing) and Export-RelayReport (the morning report: numbers, 30- and 90-day trend in SVG, what changed, what is still open since when, inconclusive by reason; self-contained HTML and a text summary). Help: about_Omr and full help with examples for every cmdlet. Default views fit 120 columns.'
        }
    }
}
