#Requires -Version 5.1
<#
.SYNOPSIS
A scheduled task's script: runs Invoke-RelayMonitor once and exits with its exit code.

.DESCRIPTION
The service itself is the module's Invoke-RelayMonitor cmdlet (Get-Help Invoke-RelayMonitor -Full).
This wrapper only imports the module (from -ModulePath, or the installed Omr), passes every other
argument on, and exits with the run's ExitCode: 0 when nothing is open, 1 when open relays remain,
2 when there were errors. A scheduler can as well run the one line
  pwsh -NoProfile -NonInteractive -Command "exit (Invoke-RelayMonitor ...).ExitCode"

.EXAMPLE
pwsh -NoProfile -NonInteractive -File Invoke-RelayMonitor.ps1 -DomainFile /etc/omr/domains.txt -StatePath /var/lib/omr/omr.db `
    -VerifyAddress relaycheck@noc.example.net -MailServer imap.example.net -CredentialPath /etc/omr/imap.xml `
    -SmtpServer smtp.example.net -From noc@example.net -ReportPath /var/lib/omr/reports -LogPath /var/log/omr/monitor.log
#>
param(
    # Where the Omr module is (default: Import-Module Omr).
    [string] $ModulePath
)
$ErrorActionPreference = 'Stop'
if ($ModulePath) { Import-Module $ModulePath } else { Import-Module Omr }
$ErrorActionPreference = 'Continue'
# Every other argument is Invoke-RelayMonitor's ($args: -Name value pairs, as given on the command line).
$run = Invoke-RelayMonitor @args
$run
exit $run.ExitCode
