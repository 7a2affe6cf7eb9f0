#Requires -Version 5.1
<#
.SYNOPSIS
Runs the open-relay monitoring service once for a list of domains: scan with history, verify what
is newly open, collect the evidence, notice, follow up fixed and hidden servers, remind, and write a
morning report and a log.

.DESCRIPTION
Meant for a scheduled task (cron, a systemd timer, Windows Task Scheduler). Every run uses one state
database (-StatePath), so each result says what changed since the last run, every host is noticed
once, reminded after -EscalateAfter and followed up once when fixed or hidden.

Steps:
 1. Test-OpenRelay -StatePath [-ProviderMx] for every domain.
 2. The results that are newly open (Change New or NewlyOpen) are tested again with -Verify: one
    verification message each to -VerifyAddress.
 3. Get-RelayEvidence finds the verification messages (-MailDrop, or -MailServer over IMAP with the
    credential from -CredentialPath or -SecretName) and writes the evidence bundles.
 4. Send-RelayNotice notices the relays proven (-MinimumProof), then sends the reminders
    (-EscalateAfter) and the resolved follow-ups (-Resolved), through -SmtpServer or into
    -PickupDirectory.
 5. The report (HTML: newly open, still open since, fixed, hidden, errors) goes to -ReportPath and
    every step to the log file -LogPath.

Exit code: 0 when nothing is open, 1 when open relays remain, 2 when there were errors (a domain that
could not be tested, a notice that failed, or the run itself failed).

.EXAMPLE
pwsh -NoProfile -NonInteractive -File Invoke-RelayMonitor.ps1 -DomainFile /etc/omr/domains.txt -StatePath /var/lib/omr/omr.db `
    -VerifyAddress relaycheck@noc.example.net -MailServer imap.example.net -CredentialPath /etc/omr/imap.xml `
    -SmtpServer smtp.example.net -From noc@example.net -Cc noc-team@example.net -ProviderMx mx1.filter.example.net `
    -ReportPath /var/lib/omr/reports -LogPath /var/log/omr/monitor.log
#>
[CmdletBinding()]
param(
    # Domains to monitor; also from the pipeline (strings, or objects with Domain/DomainName/DNSRoot).
    [Parameter(ValueFromPipeline, ValueFromPipelineByPropertyName)]
    [Alias('DomainName', 'DNSRoot')]
    [string[]] $Domain,
    # A text file (one domain a line, # comments) or a CSV file with a Domain column.
    [string] $DomainFile,
    [Parameter(Mandatory)] [string] $StatePath,
    # Folder for the HTML reports (relay-report-<date>.html; report.html is the latest).
    [Parameter(Mandatory)] [string] $ReportPath,
    [string] $LogPath,
    [string] $VerifyAddress,
    # Evidence: a folder of .eml files (Exchange pickup, Maildir) ...
    [string] $MailDrop,
    # ... or the IMAP server of the -VerifyAddress mailbox, with its credential.
    [string] $MailServer,
    [string] $CredentialPath,
    [string] $SecretName,
    [int] $EvidenceWaitSec = 120,
    [string] $EvidencePath,
    [string] $SmtpServer,
    [string] $PickupDirectory,
    [string] $From,
    [string[]] $To,
    [string[]] $Cc,
    [string[]] $ProviderMx,
    [timespan] $EscalateAfter = [timespan]::FromDays(7),
    [ValidateSet('Delivered', 'DataAccepted', 'RecipientAccepted')] [string] $MinimumProof = 'Delivered',
    [string[]] $DnsServer,
    [int[]] $Port = @(25),
    [int] $TimeoutSec = 180,
    # Where the Omr module is (default: Import-Module Omr).
    [string] $ModulePath
)

begin {
    Set-StrictMode -Version Latest
    $ErrorActionPreference = 'Stop'
    $script:Domains = [System.Collections.Generic.List[string]]::new()
    $script:Errors = [System.Collections.Generic.List[object]]::new()
    $started = Get-Date

    function Write-Log([string] $Message) {
        $line = '{0:yyyy-MM-dd HH:mm:ss} {1}' -f (Get-Date), $Message
        Write-Verbose $line
        if ($LogPath) { Add-Content -LiteralPath $LogPath -Value $line -Encoding utf8 }
    }

    function Add-RunError($Records, [string] $Step) {
        foreach ($e in @($Records)) {
            if ($null -eq $e) { continue }
            $script:Errors.Add([pscustomobject]@{
                    Step    = $Step
                    ErrorId = "$($e.FullyQualifiedErrorId)"
                    Target  = "$($e.TargetObject)"
                    Message = $e.Exception.Message
                })
            Write-Log "ERROR ${Step}: $($e.FullyQualifiedErrorId) $($e.TargetObject): $($e.Exception.Message)"
        }
    }

    if ($LogPath) {
        $dir = Split-Path -Parent $LogPath
        if ($dir -and -not (Test-Path -LiteralPath $dir)) { New-Item -ItemType Directory -Force -Path $dir | Out-Null }
    }
}

process {
    foreach ($d in @($Domain)) { if ($d) { $script:Domains.Add($d.Trim()) } }
}

end {
    $exitCode = 0
    try {
        if ($ModulePath) { Import-Module $ModulePath } else { Import-Module Omr }
        if ($DomainFile) {
            if ([IO.Path]::GetExtension($DomainFile) -eq '.csv') {
                foreach ($row in Import-Csv -LiteralPath $DomainFile) { if ($row.Domain) { $script:Domains.Add($row.Domain.Trim()) } }
            }
            else {
                foreach ($line in Get-Content -LiteralPath $DomainFile) {
                    $t = ($line -replace '#.*$', '').Trim()
                    if ($t) { $script:Domains.Add($t) }
                }
            }
        }
        $list = @($script:Domains | Sort-Object -Unique)
        if ($list.Count -eq 0) { throw 'No domain to monitor: give -Domain, -DomainFile or pipeline input.' }
        if (-not $PickupDirectory -and -not $SmtpServer) { throw 'Give -SmtpServer or -PickupDirectory for the notices.' }
        if (-not $From) { throw 'Give -From, the sender of the notices.' }
        Write-Log "Run started: $($list.Count) domain(s), state $StatePath"

        $common = @{}
        if ($DnsServer) { $common.DnsServer = $DnsServer }

        # 1. Scan with history.
        $scanErrors = $null
        $scan = @{ StatePath = $StatePath; Port = $Port; TimeoutSec = $TimeoutSec }
        if ($ProviderMx) { $scan.ProviderMx = $ProviderMx }
        $results = @($list | Test-OpenRelay @scan @common -ErrorAction SilentlyContinue -ErrorVariable scanErrors)
        Add-RunError $scanErrors 'scan'
        Write-Log "Scanned: $($results.Count) result(s); $(@($results | Where-Object Verdict -EQ 'Open').Count) open"

        # 2. Verify what is newly open (one message each), 3. collect the evidence.
        $newlyOpen = @($results | Where-Object { $_.Verdict -eq 'Open' -and $_.Change -in 'New', 'NewlyOpen' })
        $evidence = @()
        if ($newlyOpen.Count -gt 0 -and $VerifyAddress) {
            $verified = foreach ($r in $newlyOpen) {
                $vErrors = $null
                $args1 = @{ ComputerName = $r.Address; Port = $r.Port; TimeoutSec = $TimeoutSec; Verify = $true; VerifyAddress = $VerifyAddress; Confirm = $false }
                if ($r.Domain) { $args1.Domain = $r.Domain }
                Test-OpenRelay @args1 @common -ErrorAction SilentlyContinue -ErrorVariable vErrors | Where-Object Verdict -EQ 'Open'
                Add-RunError $vErrors 'verify'
            }
            $verified = @($verified)
            Write-Log "Verification messages sent through $($verified.Count) relay(s) to $VerifyAddress"
            if ($verified.Count -gt 0) {
                $ev = @{ WaitSec = $EvidenceWaitSec }
                if ($EvidencePath) { $ev.OutputPath = $EvidencePath }
                if ($MailDrop) { $ev.MailDrop = $MailDrop }
                elseif ($MailServer) {
                    $ev.MailServer = $MailServer
                    if ($CredentialPath) { $ev.Credential = Import-Clixml -LiteralPath $CredentialPath }
                    elseif ($SecretName) { $ev.Credential = Get-Secret -Name $SecretName }
                }
                else { throw 'Give -MailDrop or -MailServer to collect the evidence of -VerifyAddress.' }
                $eErrors = $null
                $evidence = @($verified | Get-RelayEvidence @ev -ErrorAction SilentlyContinue -ErrorVariable eErrors)
                Add-RunError $eErrors 'evidence'
                Write-Log "Evidence: $(@($evidence | Where-Object Delivered).Count) of $($evidence.Count) delivered"
            }
        }
        elseif ($newlyOpen.Count -gt 0) {
            Write-Log "No -VerifyAddress: $($newlyOpen.Count) newly open relay(s) not proven, so not noticed"
        }

        # 4. Notice, remind, follow up.
        $send = @{ StatePath = $StatePath; From = $From; MinimumProof = $MinimumProof; Confirm = $false }
        if ($PickupDirectory) { $send.PickupDirectory = $PickupDirectory } else { $send.SmtpServer = $SmtpServer }
        if ($To) { $send.To = $To }
        if ($Cc) { $send.Cc = $Cc }
        if ($ProviderMx) { $send.ProviderMx = $ProviderMx }
        $notices = @()
        $nErrors = $null
        if ($evidence.Count -gt 0) {
            $notices += @($evidence | Send-RelayNotice @send @common -ErrorAction SilentlyContinue -ErrorVariable nErrors)
            Add-RunError $nErrors 'notice'
        }
        $notices += @(Send-RelayNotice @send @common -EscalateAfter $EscalateAfter -ErrorAction SilentlyContinue -ErrorVariable nErrors)
        Add-RunError $nErrors 'reminder'
        $notices += @(Send-RelayNotice @send @common -Resolved -ErrorAction SilentlyContinue -ErrorVariable nErrors)
        Add-RunError $nErrors 'resolved'
        foreach ($n in $notices) { Write-Log "Notice: $n" }
        foreach ($n in @($notices | Where-Object Status -EQ 'Failed')) { $script:Errors.Add([pscustomobject]@{ Step = "$($n.Kind)"; ErrorId = 'NoticeFailed'; Target = $n.Domain; Message = $n.Reason }) }

        # 5. The morning report.
        $row = { param($r) [pscustomobject]@{
                Domain = $r.Domain; Host = $r.ComputerName; Address = $r.Address; Port = $r.Port; Verdict = "$($r.Verdict)"; Change = "$($r.Change)"
                OpenSince = if ($r.OpenSince) { $r.OpenSince.ToLocalTime().ToString('yyyy-MM-dd HH:mm') } else { '' }
                Noticed = if ($r.NoticedAt) { $r.NoticedAt.ToLocalTime().ToString('yyyy-MM-dd HH:mm') } else { '' }
                ReasonCode = "$($r.ReasonCode)"; Reason = $r.Reason
            } }
        $sections = [ordered]@{
            'Newly open'       = @($results | Where-Object { $_.Verdict -eq 'Open' -and $_.Change -in 'New', 'NewlyOpen' })
            'Still open'       = @($results | Where-Object { $_.Verdict -eq 'Open' -and $_.Change -notin 'New', 'NewlyOpen' } | Sort-Object OpenSince)
            'Fixed'            = @($results | Where-Object Change -EQ 'Fixed')
            'Hidden'           = @($results | Where-Object Change -EQ 'Hidden')
        }
        $body = foreach ($name in $sections.Keys) {
            $items = $sections[$name]
            if ($items.Count -eq 0) { "<h2>$name</h2><p>None.</p>" }
            else { $items | ForEach-Object { & $row $_ } | ConvertTo-Html -Fragment -PreContent "<h2>$name ($($items.Count))</h2>" | Out-String }
        }
        $body += if ($script:Errors.Count -eq 0) { '<h2>Errors</h2><p>None.</p>' } else { $script:Errors | ConvertTo-Html -Fragment -PreContent "<h2>Errors ($($script:Errors.Count))</h2>" | Out-String }
        $body += ($notices | Select-Object Kind, Status, Domain, @{ n = 'Hosts'; e = { $_.Hosts -join ', ' } }, Subject, Reason | ConvertTo-Html -Fragment -PreContent "<h2>Notices ($($notices.Count))</h2>" | Out-String)
        if (-not (Test-Path -LiteralPath $ReportPath)) { New-Item -ItemType Directory -Force -Path $ReportPath | Out-Null }
        $summary = "Open relay report $($started.ToString('yyyy-MM-dd HH:mm')): $($results.Count) result(s), $(@($results | Where-Object Verdict -EQ 'Open').Count) open, $($script:Errors.Count) error(s)"
        $html = ConvertTo-Html -Title $summary -Body (@("<h1>$summary</h1>") + $body) -Head '<style>body{font-family:sans-serif}table{border-collapse:collapse}td,th{border:1px solid #999;padding:2px 6px}</style>' | Out-String
        $file = Join-Path $ReportPath ('relay-report-{0:yyyyMMdd-HHmmss}.html' -f $started)
        Set-Content -LiteralPath $file -Value $html -Encoding utf8
        Copy-Item -LiteralPath $file -Destination (Join-Path $ReportPath 'report.html') -Force
        Write-Log "Report: $file"

        $exitCode = if ($script:Errors.Count -gt 0) { 2 } elseif (@($results | Where-Object Verdict -EQ 'Open').Count -gt 0) { 1 } else { 0 }
    }
    catch {
        Write-Log "FAILED: $($_.Exception.Message)"
        Write-Error -ErrorRecord $_ -ErrorAction Continue
        $exitCode = 2
    }
    Write-Log "Run ended: exit code $exitCode"
    exit $exitCode
}
