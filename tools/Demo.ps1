#Requires -Version 7.2

<#
.SYNOPSIS
The Demo task of build.ps1: starts the lab, imports the built module, tests a representative set
of lab domains, shows the results, stops the lab. Runs in its own pwsh process.
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory)] [string] $ModulePath,
    [Parameter(Mandatory)] [string] $LabPath
)

$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'

Import-Module (Join-Path $PSScriptRoot '../tests/TestHelpers.psm1') -Force

Write-Host '==> Starting the lab: dotnet out/lab/Omr.Lab.dll --smtp-port 0' -ForegroundColor Cyan
$lab = Start-OmrLab -LabPath $LabPath
try {
    Write-Host "   SMTP port $($lab.smtpPort) on every lab address, DNS $($lab.dnsServer), mail drop $($lab.mailDrop)"
    Write-Host "   $(@($lab.servers).Count) servers, $(@($lab.domains).Count) domains"

    Import-Module $ModulePath -Force

    $wanted = 'open', 'closed', 'backup', 'nomx', 'nullmx', 'ipv6only', 'starttls-required', 'greylist', 'tarpit', 'reject-session',
    'vuln-percent-hack-ip', 'vuln-source-route-ip', 'vuln-quoted-recipient', 'vuln-bang-path'
    $known = @($lab.domains.name)
    $domains = foreach ($w in $wanted) {
        $name = "$w.omr-lab.test"
        if ($known -contains $name) { $name } else { Write-Warning "The lab has no domain $name." }
    }

    Write-Host ''
    Write-Host "==> Test-OpenRelay -Domain $($domains -join ', ') ``" -ForegroundColor Cyan
    Write-Host "      -DnsServer $($lab.dnsServer) -Port $($lab.smtpPort) -TimeoutSec 10" -ForegroundColor Cyan
    $sw = [System.Diagnostics.Stopwatch]::StartNew()
    $results = Test-OpenRelay -Domain $domains -DnsServer $lab.dnsServer -Port $lab.smtpPort -TimeoutSec 10 `
        -ErrorAction Continue
    $sw.Stop()

    # The module's default table view (Omr.Format.ps1xml).
    $results | Sort-Object Domain, Preference, Address | Format-Table | Out-String -Width 120 | Write-Host

    Write-Host ("{0} results in {1:N1} s: {2}" -f @($results).Count, $sw.Elapsed.TotalSeconds,
        ((@($results) | Group-Object Verdict | ForEach-Object { "$($_.Count) $($_.Name)" }) -join ', '))

    $open = @($results | Where-Object Verdict -EQ 'Open') | Select-Object -First 1
    if ($open) {
        Write-Host ''
        Write-Host "==> The transcript of $($open.ComputerName) [$($open.Address)] (first 12 lines)" -ForegroundColor Cyan
        $open.Transcript | Select-Object -First 12 | ForEach-Object { Write-Host "   $_" }
    }

    # Proof: an accepted RCPT is not proof. Send one verification message through each open
    # relay to a mailbox "we" own (in the lab's noc.omr-lab.test); the lab's relays hand it on to
    # the mailbox's server, the accept-then-discard server says 250 and delivers nothing, and the
    # mailbox domain's own servers (noc.omr-lab.test: its MX and its open backup MX) are tested with
    # a recipient foreign to them and never get the message: they would deliver it themselves.
    $verifyAddress = 'relaycheck@noc.omr-lab.test'
    $proofDomains = 'open.omr-lab.test', 'vuln-percent-hack-ip.omr-lab.test', 'discard.omr-lab.test', 'noc.omr-lab.test'
    $evidenceDir = Join-Path (Split-Path -Parent (Split-Path -Parent $ModulePath)) 'demo/evidence'
    Remove-Item -Recurse -Force -LiteralPath $evidenceDir -ErrorAction SilentlyContinue
    Write-Host ''
    Write-Host "==> Test-OpenRelay -Domain $($proofDomains -join ', ') -Verify -VerifyAddress $verifyAddress |" -ForegroundColor Cyan
    Write-Host "      Where-Object Verdict -eq 'Open' | Get-RelayEvidence -MailDrop <lab mail drop> -WaitSec 5 -OutputPath $evidenceDir" -ForegroundColor Cyan
    $evidence = Test-OpenRelay -Domain $proofDomains -DnsServer $lab.dnsServer -Port $lab.smtpPort -TimeoutSec 10 `
        -Verify -VerifyAddress $verifyAddress -Confirm:$false |
        Where-Object Verdict -EQ 'Open' |
        Get-RelayEvidence -MailDrop $lab.mailDrop -WaitSec 5 -OutputPath $evidenceDir
    $evidence | Format-Table | Out-String -Width 120 | Write-Host
    $proven = @($evidence | Where-Object Delivered) | Select-Object -First 1
    if ($proven) {
        Write-Host "==> The verification message came back through $($proven.ComputerName); its Received chain:" -ForegroundColor Cyan
        $proven.Hops | ForEach-Object { Write-Host "   $_" }
        Write-Host "   Evidence bundle: $($proven.BundlePath)"
        $proven.Files | ForEach-Object { Write-Host "     $(Split-Path -Leaf $_)" }
        Write-Host "   Readable report: $(Join-Path $proven.BundlePath 'report.html')"
    }

    # Notice: one per domain, to its postmaster@, abuse@ and SOA contact (found in the lab's DNS) and
    # to the abuse desk of the network that holds the server (-NetworkAbuse: found over RDAP, here at
    # the lab's RDAP server, which answers as the regional registries do), written to a pickup folder for review instead of being sent. A state file remembers it, so a
    # second run (a scheduled task running again) does not notice the same host twice.
    $pickup = Join-Path (Split-Path -Parent $evidenceDir) 'notices'
    $state = Join-Path (Split-Path -Parent $evidenceDir) 'notices.json'
    Remove-Item -Recurse -Force -LiteralPath $pickup, $state -ErrorAction SilentlyContinue
    Write-Host ''
    Write-Host "==> ... | Send-RelayNotice -PickupDirectory $pickup -From noc@example.net -StatePath $state -NetworkAbuse -RdapServer $($lab.rdapServer)" -ForegroundColor Cyan
    $notices = $evidence | Send-RelayNotice -PickupDirectory $pickup -From noc@example.net -StatePath $state `
        -DnsServer $lab.dnsServer -ProviderMx filter.example.net -ProviderNetwork 192.0.2.0/24 -NetworkAbuse -RdapServer $lab.rdapServer -Confirm:$false
    $notices | Format-Table | Out-String -Width 120 | Write-Host
    Write-Host '==> The same evidence again (a second scheduled run): nothing is sent twice' -ForegroundColor Cyan
    $again = $evidence | Send-RelayNotice -PickupDirectory $pickup -From noc@example.net -StatePath $state `
        -DnsServer $lab.dnsServer -Confirm:$false
    $again | Format-Table Domain, Status, Reason -Wrap | Out-String -Width 120 | Write-Host
    $written = @($notices | Where-Object EmlPath) | Select-Object -First 1
    if ($written) {
        Write-Host "==> The first lines of $($written.EmlPath)" -ForegroundColor Cyan
        Get-Content -LiteralPath $written.EmlPath -TotalCount 14 | ForEach-Object { Write-Host "   $_" }
    }
}
finally {
    Stop-OmrLab $lab
    Write-Host ''
    Write-Host '==> Lab stopped.' -ForegroundColor Cyan
}

$module = Resolve-Path -LiteralPath $ModulePath -Relative
Write-Host @"

Try it yourself (from the repository root):

    dotnet pwsh
    Import-Module $module
    Get-Help Test-OpenRelay -Full
    Test-OpenRelay -Domain example.com          # your own domain: MX lookup, every address tested
    Get-Help Get-RelayEvidence -Full; Get-Help Send-RelayNotice -Full

The lab, in another terminal (prints one JSON line with its ports, runs until stdin closes):

    dotnet out/lab/Omr.Lab.dll --smtp-port 0

then, with the smtpPort and dnsServer it printed:

    Test-OpenRelay -Domain open.omr-lab.test -DnsServer <dnsServer> -Port <smtpPort> | Format-List *
    'backup.omr-lab.test', 'closed.omr-lab.test' | Test-OpenRelay -DnsServer <dnsServer> -Port <smtpPort> |
        Export-Csv relay.csv -NoTypeInformation
"@
