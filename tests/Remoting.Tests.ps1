#Requires -Version 7.3
# Scale-out over PowerShell remoting, as the README shows it: workers run Test-OpenRelay -Verify
# on their share of the domains, out of process; the coordinator receives the DESERIALIZED
# results and runs Get-RelayEvidence and Send-RelayNotice on them (one state file, one place).
# Two kinds of worker: a Start-Job (a child pwsh), and two sessions over real SSH remoting to a
# private sshd on 127.0.0.1 (tests/lab/sshd.sh: its own config, host key, client key and port;
# the 'powershell' subsystem is the pinned pwsh). The system sshd is neither needed nor touched.
# If sshd cannot be installed or started, the SSH tests fail with the reason (never skip).

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-OmrModule
    $script:ModulePath = (Resolve-Path -LiteralPath (Get-OmrModulePath)).Path
    $script:Lab = Start-OmrLab
    $script:VerifyAddress = 'relaycheck@noc.example.net'
    $script:Domains = @('open.omr-lab.test', 'closed.omr-lab.test', 'backup.omr-lab.test',
        'vuln-foreign-recipient.omr-lab.test', 'vuln-null-sender.omr-lab.test', 'vuln-bang-path.omr-lab.test')
    # What the lab says each domain must give: one 'server:Verdict@preference' per address.
    $script:Expected = @{}
    foreach ($d in $Lab.domains) { if ($d.name -in $Domains) { $Expected[$d.name] = @($d.expect) } }
    $script:OpenCount = @($Expected.Values | ForEach-Object { $_ } | Where-Object { $_ -like '*:Open@*' }).Count

    # The worker's whole job: import the module, scan its domains, verify. Nothing else is needed there.
    $script:Scan = {
        param([string] $ModulePath, [string[]] $Domain, [string] $DnsServer, [int] $Port, [string] $VerifyAddress)
        $ErrorActionPreference = 'Stop'
        Import-Module -Name $ModulePath
        Test-OpenRelay -Domain $Domain -DnsServer $DnsServer -Port $Port -TimeoutSec 20 -Verify -VerifyAddress $VerifyAddress -Confirm:$false
    }

    function script:Assert-ScanResult([object[]] $Results) {
        # Every domain answered exactly as the lab expects: one result per address, no duplicates.
        $Results.Count | Should -Be @($Expected.Values | ForEach-Object { $_ }).Count
        @($Results.Domain | Sort-Object -Unique) | Should -Be @($Domains | Sort-Object)
        @($Results | Group-Object Domain, Address | Where-Object Count -GT 1) | Should -BeNullOrEmpty
        foreach ($domain in $Domains) {
            $mine = @($Results | Where-Object Domain -EQ $domain | Sort-Object Preference)
            $mine.Count | Should -Be $Expected[$domain].Count -Because "$domain has $($Expected[$domain].Count) address(es)"
            @($mine | ForEach-Object { "$($_.Verdict)" }) | Should -Be @($Expected[$domain] | ForEach-Object { ($_ -split '[:@]')[1] }) -Because $domain
        }
        foreach ($r in $Results) {
            $r.PSObject.TypeNames | Should -Contain 'Deserialized.Omr.RelayTestResult'
            $r -is [Omr.RelayTestResult] | Should -BeFalse -Because 'it came back from another process'
            if ("$($r.Verdict)" -eq 'Open') {
                "$($r.Proof)" | Should -Be 'DataAccepted' -Because "$($r.Domain) $($r.Address): $($r.Reason)"
                $r.VerificationMessageId | Should -Be "$($r.ProbeId)@omr.invalid"
            }
        }
    }

    function script:Invoke-Coordinator([object[]] $Results, [string] $Name) {
        # What the coordinator does with what the workers sent back: evidence, then notices, twice
        # (the second run must notice nobody: one state file, the duplicate guard).
        $root = Join-Path $TestDrive $Name
        $notice = @{
            PickupDirectory = Join-Path $root 'pickup'; StatePath = Join-Path $root 'notices.json'
            From = 'noc@example.net'; To = 'ops@customer.example'; DnsServer = $Lab.dnsServer; Confirm = $false
        }
        $evidence = @($Results | Get-RelayEvidence -MailDrop $Lab.mailDrop -OutputPath (Join-Path $root 'evidence') -WaitSec 5 -ErrorVariable evidenceErrors)
        $first = @($evidence | Send-RelayNotice @notice -ErrorVariable firstErrors)
        $emlAfterFirst = @(Get-ChildItem -LiteralPath $notice.PickupDirectory -Filter *.eml -File -ErrorAction SilentlyContinue)
        $second = @($evidence | Send-RelayNotice @notice -ErrorVariable secondErrors)
        [pscustomobject]@{
            Evidence = $evidence; First = $first; Second = $second; Pickup = $notice.PickupDirectory; StatePath = $notice.StatePath
            EmlAfterFirst = $emlAfterFirst
            EmlAfterSecond = @(Get-ChildItem -LiteralPath $notice.PickupDirectory -Filter *.eml -File -ErrorAction SilentlyContinue)
            Errors = @($evidenceErrors) + @($firstErrors) + @($secondErrors)
        }
    }

    function script:Assert-Coordinated($Run, [object[]] $Results) {
        $Run.Errors | Should -BeNullOrEmpty
        # Get-RelayEvidence: one answer per result; every open relay Delivered (the mail drop has it).
        $Run.Evidence.Count | Should -Be $Results.Count
        $Run.Evidence | ForEach-Object { $_.PSObject.TypeNames[0] | Should -Be 'Omr.RelayEvidence' }
        $delivered = @($Run.Evidence | Where-Object Delivered)
        $delivered.Count | Should -Be $OpenCount
        foreach ($ev in $delivered) {
            "$($ev.Proof)" | Should -Be 'Delivered'
            $ev.ProbeId | Should -BeIn @($Results.ProbeId)
            $ev.Files.Count | Should -Be 4
            $ev.Files | ForEach-Object { $_ | Should -Exist }
        }
        $open = $Run.Evidence | Where-Object { $_.Result.Domain -eq 'open.omr-lab.test' }
        $open.Delivered | Should -BeTrue -Because $open.Reason
        $open.RelaySeen | Should -BeTrue
        # Send-RelayNotice: one notice per domain; written for every domain with a delivered relay.
        $openDomains = @($delivered | ForEach-Object { $_.Result.Domain } | Sort-Object -Unique)
        @($Run.First.Domain | Sort-Object) | Should -Be @($Domains | Sort-Object)
        $written = @($Run.First | Where-Object Status -EQ 'Written')
        @($written.Domain | Sort-Object) | Should -Be $openDomains
        @($Run.First | Where-Object Status -NE 'Written' | ForEach-Object Status | Sort-Object -Unique) | Should -Be @('Skipped')
        $Run.EmlAfterFirst.Count | Should -Be $openDomains.Count
        foreach ($n in $written) {
            $n.EmlPath | Should -Exist
            $n.Recipients | Should -Be @('ops@customer.example')
            (Get-Content -Raw -LiteralPath $n.EmlPath) | Should -Match ([regex]::Escape($n.Domain))
        }
        $Run.StatePath | Should -Exist
        # The second run: nobody noticed again, nothing written.
        $Run.Second.Count | Should -Be $Run.First.Count
        @($Run.Second | Where-Object Status -EQ 'Written') | Should -BeNullOrEmpty
        foreach ($d in $openDomains) {
            ($Run.Second | Where-Object Domain -EQ $d).Reason | Should -Match 'already noticed'
        }
        $Run.EmlAfterSecond.Count | Should -Be $Run.EmlAfterFirst.Count
    }
}

AfterAll {
    Stop-OmrLab $Lab
}

Describe 'Remoting: scale-out with Start-Job' -Tag Lab, Remoting {
    BeforeAll {
        $job = Start-Job -Name 'omr-worker' -ScriptBlock $Scan -ArgumentList $ModulePath, $Domains, $Lab.dnsServer, $Lab.smtpPort, $VerifyAddress
        if (-not (Wait-Job -Job $job -Timeout 60)) { Stop-Job -Job $job; throw 'The Start-Job worker did not finish within 60 s.' }
        $script:JobState = "$($job.State)"
        $script:JobResults = @(Receive-Job -Job $job -ErrorVariable script:JobErrors -ErrorAction SilentlyContinue)
        Remove-Job -Job $job -Force
        $script:JobRun = if ($JobResults.Count) { Invoke-Coordinator $JobResults 'job' }
    }

    It 'the job returns deserialized Omr.RelayTestResult objects, one per domain address' {
        $JobErrors | Should -BeNullOrEmpty
        $JobState | Should -Be 'Completed'
        Assert-ScanResult $JobResults
    }

    It 'the results re-bind to Get-RelayEvidence and Send-RelayNotice on the coordinator; a second run sends nothing' {
        $JobRun | Should -Not -BeNullOrEmpty
        Assert-Coordinated $JobRun $JobResults
    }
}

Describe 'Remoting: scale-out over SSH to two workers' -Tag Lab, Remoting, Ssh {
    BeforeAll {
        # Throws (and so fails every test here) with the reason when sshd cannot be had.
        $script:Sshd = Start-OmrSshd
        $connect = @{
            HostName = $Sshd.HostName; Port = $Sshd.Port; UserName = $Sshd.UserName
            KeyFilePath = $Sshd.KeyFilePath; Options = $Sshd.Options
        }
        try {
            $script:Sessions = @(1, 2 | ForEach-Object { New-PSSession @connect -Name "omr-worker-$_" -ErrorAction Stop })
        }
        catch {
            $log = if (Test-Path -LiteralPath $Sshd.Log) { (Get-Content -LiteralPath $Sshd.Log -Tail 20) -join "`n" }
            throw "New-PSSession over SSH to $($Sshd.HostName):$($Sshd.Port) failed: $($_.Exception.Message)`nsshd log:`n$log"
        }
        # Shard the domain list in two halves: each worker is told its own share once...
        $half = [int][Math]::Ceiling($Domains.Count / 2)
        $script:Shards = @(, @($Domains[0..($half - 1)])) + @(, @($Domains[$half..($Domains.Count - 1)]))
        for ($i = 0; $i -lt $Sessions.Count; $i++) {
            Invoke-Command -Session $Sessions[$i] -ScriptBlock { param([string[]] $Shard) $global:OmrShard = $Shard } -ArgumentList (, $Shards[$i])
        }
        # ...then one Invoke-Command fans the scan out to both, two at a time.
        $started = [Diagnostics.Stopwatch]::StartNew()
        $script:SshResults = @(Invoke-Command -Session $Sessions -ThrottleLimit 2 -ErrorVariable script:SshErrors -ErrorAction SilentlyContinue -ScriptBlock {
                param([string] $ModulePath, [string] $DnsServer, [int] $Port, [string] $VerifyAddress)
                $ErrorActionPreference = 'Stop'
                Import-Module -Name $ModulePath
                Test-OpenRelay -Domain $global:OmrShard -DnsServer $DnsServer -Port $Port -TimeoutSec 20 -Verify -VerifyAddress $VerifyAddress -Confirm:$false
            } -ArgumentList $ModulePath, $Lab.dnsServer, $Lab.smtpPort, $VerifyAddress)
        $script:SshSeconds = $started.Elapsed.TotalSeconds
        $script:SshRun = if ($SshResults.Count) { Invoke-Coordinator $SshResults 'ssh' }
    }

    AfterAll {
        if ($script:Sessions) { $Sessions | Remove-PSSession -ErrorAction SilentlyContinue }
        Stop-OmrSshd $script:Sshd
    }

    It 'both sessions are real SSH sessions to the private sshd, running the pinned pwsh' {
        $Sessions.Count | Should -Be 2
        foreach ($s in $Sessions) {
            $s.State | Should -Be 'Opened'
            $s.Transport | Should -Be 'SSH'
            $s.ComputerName | Should -Be '127.0.0.1'
        }
        $remote = @(Invoke-Command -Session $Sessions -ScriptBlock { [pscustomobject]@{ Version = "$($PSVersionTable.PSVersion)"; Home = $PSHOME; Pid = $PID } })
        $remote.Count | Should -Be 2
        $remote.Version | Should -Be @("$($PSVersionTable.PSVersion)", "$($PSVersionTable.PSVersion)")
        $remote | ForEach-Object { $_.Home | Should -Be $PSHOME }
        @($remote.Pid | Sort-Object -Unique).Count | Should -Be 2 -Because 'each worker is its own process'
        $remote.Pid | Should -Not -Contain $PID
        (Get-Content -Raw -LiteralPath $Sshd.Log) | Should -Match "subsystem 'powershell'"
        # And without a session of your own: Invoke-Command -HostName straight away.
        $direct = Invoke-Command -HostName $Sshd.HostName -Port $Sshd.Port -UserName $Sshd.UserName -KeyFilePath $Sshd.KeyFilePath `
            -Options $Sshd.Options -ScriptBlock { Get-Module -ListAvailable -Name $args[0] | Select-Object -First 1 -ExpandProperty Version } -ArgumentList $ModulePath
        "$direct" | Should -Be "$((Get-Module Omr).Version)"
        $direct.PSComputerName | Should -Be '127.0.0.1'
    }

    It 'every domain came back exactly once, from the worker that was given it, with PSComputerName set' {
        $SshErrors | Should -BeNullOrEmpty
        Assert-ScanResult $SshResults
        foreach ($r in $SshResults) { $r.PSComputerName | Should -Be '127.0.0.1' }
        for ($i = 0; $i -lt $Sessions.Count; $i++) {
            $fromWorker = @($SshResults | Where-Object RunspaceId -EQ $Sessions[$i].InstanceId)
            @($fromWorker.Domain | Sort-Object -Unique) | Should -Be @($Shards[$i] | Sort-Object) -Because "worker $($i + 1) scanned its own half"
        }
        $SshSeconds | Should -BeLessThan 60
    }

    It 'the results re-bind to Get-RelayEvidence and Send-RelayNotice on the coordinator; a second run sends nothing' {
        $SshRun | Should -Not -BeNullOrEmpty
        Assert-Coordinated $SshRun $SshResults
    }
}
