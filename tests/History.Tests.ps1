#Requires -Version 7.2
# Monitoring with history (issue 9), on the BUILT module, against the embedded lab and a tiny
# in-test SMTP server whose behaviour the test flips between runs (open -> closed -> stopped):
# several runs against one SQLite state database, Change/OpenSince/NoticedAt, the hidden-server
# remedy (-ProviderMx), notices, reminders and resolved follow-ups exactly once, two processes at
# once, Get-RelayHistory, and the example monitor script end to end.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-OmrModule
    $script:Lab = Start-OmrLab
    $script:Port = [int]$Lab.smtpPort

    function script:New-Flip { New-OmrFlip -Port $Port }

    function script:ConvertTo-Evidence {
        # Get-RelayEvidence against an empty mail drop: evidence with the proof the scan had (RecipientAccepted).
        param([Parameter(ValueFromPipeline)] $Result)
        begin { $all = [System.Collections.Generic.List[object]]::new() }
        process { $all.Add($Result) }
        end {
            $drop = Join-Path $TestDrive ('drop-' + [guid]::NewGuid().ToString('N').Substring(0, 6))
            New-Item -ItemType Directory $drop | Out-Null
            $all | Get-RelayEvidence -MailDrop $drop -WaitSec 0
        }
    }

    function script:New-Db([string] $Name) { Join-Path $TestDrive ($Name + '-' + [guid]::NewGuid().ToString('N').Substring(0, 6) + '.db') }

    $script:Scan = @{ DnsServer = $Lab.dnsServer; Port = $Port; TimeoutSec = 20 }
    $script:NoticeArgs = @{ From = 'noc@example.net'; To = 'ops@customer.example'; Cc = 'team@example.net'; MinimumProof = 'RecipientAccepted'; DnsServer = $Lab.dnsServer; Confirm = $false }
}

AfterAll {
    Stop-OmrLab $Lab
}

Describe 'Test-OpenRelay -StatePath' -Tag Lab, History {
    It 'open -> still open -> fixed, with OpenSince kept and the relayed tests run first; Get-RelayHistory reads it back' {
        $flip = New-Flip
        try {
            $db = New-Db 'fixed'
            $target = @{ ComputerName = $flip.Address; Domain = 'customer.example' }
            $r1 = Test-OpenRelay @target @Scan -StatePath $db
            $r1.Verdict | Should -Be 'Open'
            $r1.Change | Should -Be 'New'
            $r1.OpenSince | Should -Not -BeNullOrEmpty
            $r1.NoticedAt | Should -BeNullOrEmpty

            $r2 = Test-OpenRelay @target @Scan -StatePath $db
            $r2.Verdict | Should -Be 'Open'
            $r2.Change | Should -Be 'StillOpen'
            $r2.OpenSince | Should -Be $r1.OpenSince
            ($r2.Transcript.Text -join "`n") | Should -Match 'tests that relayed last time run first'

            $flip.Server.Mode = 'closed'
            $r3 = Test-OpenRelay @target @Scan -StatePath $db
            $r3.Verdict | Should -Be 'Closed'
            $r3.Change | Should -Be 'Fixed'
            $r3.OpenSince | Should -Be $r1.OpenSince

            $r4 = Test-OpenRelay @target @Scan -StatePath $db
            $r4.Change | Should -Be 'Unchanged'

            $all = @(Get-RelayHistory -StatePath $db)
            $all.Count | Should -Be 4
            $all[0].PSObject.TypeNames | Should -Contain 'Omr.RelayHistoryEntry'
            @($all.Change) | Should -Be @('Unchanged', 'Fixed', 'StillOpen', 'New')
            @(Get-RelayHistory $db -Change Fixed).ProbeId | Should -Be $r3.ProbeId
            @(Get-RelayHistory $db -Latest).Count | Should -Be 1
            @(Get-RelayHistory $db -Verdict Open).Count | Should -Be 2
            # Each result's software is kept as it was identified (schema version 4).
            $all[3].Software.PSObject.TypeNames | Should -Contain 'Omr.RelaySoftware'
            "$($all[3].Software)" | Should -Be "$($r1.Software)"
            "$($all[3].Software.Confidence)" | Should -Be "$($r1.Software.Confidence)"
            $all[3].Software.Evidence | Should -Be $r1.Software.Evidence
            @(Get-RelayHistory $db -ComputerName $flip.Address -Domain 'CUSTOMER.example').Count | Should -Be 4
            @(Get-RelayHistory $db -Domain other.example).Count | Should -Be 0
            @(Get-RelayHistory $db -Since ([datetime]::Now.AddMinutes(5))).Count | Should -Be 0
            (Get-RelayHistory $db -Verdict Open | Select-Object -First 1).Transcript | Should -Match '250 2.1.5 ok'
            # Paging runs in the database: -First, -Skip and -IncludeTotalCount.
            @(Get-RelayHistory $db -First 2).Change | Should -Be @('Unchanged', 'Fixed')
            @(Get-RelayHistory $db -Skip 3).Change | Should -Be @('New')
            $paged = @(Get-RelayHistory $db -Verdict Open -First 1 -IncludeTotalCount)
            $paged.Count | Should -Be 2
            $paged[0].ToString() | Should -Match '^Total count: 2'
            $paged[1].Change | Should -Be 'StillOpen'
        }
        finally { $flip.Server.Stop() }
    }

    It 'open -> shut out -> really closed: Unconfirmed while the server refuses the tester, Fixed only when a relay policy is seen' {
        $flip = New-Flip
        try {
            $db = New-Db 'shutout'
            $pickup = Join-Path $TestDrive ('pickup-' + [guid]::NewGuid().ToString('N').Substring(0, 6))
            $target = @{ ComputerName = $flip.Address; Domain = 'customer.example' }
            $r1 = Test-OpenRelay @target @Scan -StatePath $db
            $r1.Change | Should -Be 'New'
            $r1 | ConvertTo-Evidence | Send-RelayNotice @NoticeArgs -PickupDirectory $pickup -StatePath $db | Out-Null
            $r2 = Test-OpenRelay @target @Scan -StatePath $db
            $r2.Change | Should -Be 'StillOpen'

            # The administrator blocks the tester instead of fixing the relay: three ways of saying so.
            $seen = foreach ($mode in 'shutout', 'refused', 'blocked') {
                $flip.Server.Mode = $mode
                $r = Test-OpenRelay @target @Scan -StatePath $db
                $r.Verdict | Should -Be 'Inconclusive' -Because "$mode`: $($r.Reason)"
                $r.ReasonCode | Should -Be 'ClientRefused' -Because "$mode`: $($r.Reason)"
                $r.Change | Should -Be 'Unconfirmed'
                $r.OpenSince | Should -Be $r1.OpenSince
                $r.Reason | Should -Match 'another address'
                # The case stays open: no resolved follow-up, but the reminder goes on.
                @(Send-RelayNotice @NoticeArgs -PickupDirectory $pickup -StatePath $db -Resolved).Count | Should -Be 0
                $r
            }
            @($seen).Count | Should -Be 3
            $reminder = @(Send-RelayNotice @NoticeArgs -PickupDirectory $pickup -StatePath $db -EscalateAfter ([timespan]::FromMilliseconds(1)))
            $reminder.Count | Should -Be 1
            $reminder[0].Subject | Should -Match 'not confirmed fixed'
            $body = Get-Content -Raw -LiteralPath $reminder[0].EmlPath
            $body | Should -Match 'Refusing our test address does not close the relay'

            $flip.Server.Mode = 'closed'
            $r6 = Test-OpenRelay @target @Scan -StatePath $db
            $r6.Verdict | Should -Be 'Closed'
            $r6.Change | Should -Be 'Fixed'
            $r6.OpenSince | Should -Be $r1.OpenSince
            $resolved = @(Send-RelayNotice @NoticeArgs -PickupDirectory $pickup -StatePath $db -Resolved)
            $resolved.Count | Should -Be 1
            $resolved[0].Subject | Should -Match 'is fixed'
            @(Get-RelayHistory $db).Change | Should -Be @('Fixed', 'Unconfirmed', 'Unconfirmed', 'Unconfirmed', 'StillOpen', 'New')
        }
        finally { $flip.Server.Stop() }
    }

    It 'open -> hidden behind a provider MX with the old address unreachable' {
        $flip = New-Flip
        $db = New-Db 'hidden'
        $r1 = Test-OpenRelay -ComputerName $flip.Address -Domain closed.omr-lab.test @Scan -StatePath $db
        $r1.Verdict | Should -Be 'Open'
        $flip.Server.Stop()
        # The domain's MX (closed.mx) is the provider's: the old address is still tested, refuses, and is Hidden.
        $r2 = @(Test-OpenRelay -Domain closed.omr-lab.test @Scan -StatePath $db -ProviderMx closed.mx.omr-lab.test)
        $old = @($r2 | Where-Object Address -EQ $flip.Address)
        $old.Count | Should -Be 1
        $old[0].IsMxAddress | Should -BeFalse
        $old[0].Verdict | Should -Be 'Hidden'
        $old[0].Change | Should -Be 'Hidden'
        $old[0].ReasonCode | Should -Be 'ConnectionRefused'
        $old[0].Reason | Should -Match 'only the provider'
        $old[0].OpenSince | Should -Be $r1.OpenSince
        @($r2 | Where-Object IsMxAddress -EQ $true).Verdict | Should -Be 'Closed'
        # Once hidden, it stays watched and Unchanged while it stays hidden.
        $r3 = @(Test-OpenRelay -Domain closed.omr-lab.test @Scan -StatePath $db -ProviderMx closed.mx.omr-lab.test | Where-Object Address -EQ $flip.Address)
        $r3[0].Verdict | Should -Be 'Hidden'
        $r3[0].Change | Should -Be 'Unchanged'
    }

    It 'open -> MX moved but the old address still relays: not hidden, and the reason says so' {
        $flip = New-Flip
        try {
            $db = New-Db 'moved'
            $null = Test-OpenRelay -ComputerName $flip.Address -Domain closed.omr-lab.test @Scan -StatePath $db
            $r2 = @(Test-OpenRelay -Domain closed.omr-lab.test @Scan -StatePath $db -ProviderMx closed.mx.omr-lab.test | Where-Object Address -EQ $flip.Address)
            $r2.Count | Should -Be 1
            $r2[0].Verdict | Should -Be 'Open'
            $r2[0].Change | Should -Be 'StillOpen'
            $r2[0].Reason | Should -Match 'MX moved .* still reachable and relays'
        }
        finally { $flip.Server.Stop() }
    }

    It 'an open server the MX still names next to the provider''s host is not hidden, and the reason says the MX still names it' {
        # backup.omr-lab.test: MX 10 closed.mx (taken as the provider's host here), MX 20 open.mx.
        $db = New-Db 'names'
        $null = Test-OpenRelay -Domain backup.omr-lab.test @Scan -StatePath $db
        $r = @(Test-OpenRelay -Domain backup.omr-lab.test @Scan -StatePath $db -ProviderMx closed.mx.omr-lab.test | Where-Object Verdict -EQ 'Open')
        $r.Count | Should -Be 1
        $r[0].Change | Should -Be 'StillOpen'
        $r[0].IsMxAddress | Should -BeTrue
        $r[0].Reason | Should -Match 'still names the old server \(open\.mx\.omr-lab\.test\) next to the provider''s hosts \(closed\.mx\.omr-lab\.test\)'
    }

    It 'an open server whose MX never moved to the provider gets no word of an "old server"' {
        $db = New-Db 'unmoved'
        $first = Test-OpenRelay -Domain open.omr-lab.test @Scan -StatePath $db -ProviderMx mx1.filter.example.net
        $again = Test-OpenRelay -Domain open.omr-lab.test @Scan -StatePath $db -ProviderMx mx1.filter.example.net
        $first.Change | Should -Be 'New'
        $again.Change | Should -Be 'StillOpen'
        foreach ($r in $first, $again) {
            $r.Verdict | Should -Be 'Open'
            $r.Reason | Should -Not -Match 'old server'
        }
    }

    It 'two runs at once on one store both record everything' {
        $db = New-Db 'twoRuns'
        $module = Get-OmrModulePath
        $jobs = 1..2 | ForEach-Object {
            Start-Job -ArgumentList $module, $db, $Lab.dnsServer, $Port -ScriptBlock {
                param($Module, $Db, $Dns, $Port)
                Import-Module $Module
                @(Test-OpenRelay open.omr-lab.test, closed.omr-lab.test -DnsServer $Dns -Port $Port -TimeoutSec 20 -StatePath $Db).Count
            }
        }
        $counts = $jobs | Receive-Job -Wait -AutoRemoveJob -ErrorAction Stop
        $counts | Should -Be @(2, 2)
        $history = @(Get-RelayHistory $db)
        $history.Count | Should -Be 4
        @($history.RunId | Sort-Object -Unique).Count | Should -Be 2
    }

    It 'a corrupt state database stops the run with StateCorrupt and is left alone' {
        $db = New-Db 'corrupt'
        Set-Content -LiteralPath $db -Value 'not a database'
        { Test-OpenRelay -ComputerName 127.0.0.1 @Scan -StatePath $db -ErrorAction Stop } | Should -Throw -ErrorId 'StateCorrupt,*'
        { Get-RelayHistory $db } | Should -Throw -ErrorId 'StateCorrupt,*'
        Get-Content -LiteralPath $db | Should -Be 'not a database'
    }

    It '-ProviderMx without -StatePath is refused' {
        { Test-OpenRelay -ComputerName 127.0.0.1 @Scan -ProviderMx mx.example.net } | Should -Throw -ErrorId 'ProviderMxNeedsState,*'
    }
}

Describe 'Send-RelayNotice with the state database' -Tag Lab, History, Notice {
    It 'exactly one notice, one reminder per period and one resolved follow-up' {
        $flip = New-Flip
        try {
            $db = New-Db 'cycle'
            $pickup = Join-Path $TestDrive ('pickup-' + [guid]::NewGuid().ToString('N').Substring(0, 6))
            $target = @{ ComputerName = $flip.Address; Domain = 'customer.example' }
            $r1 = Test-OpenRelay @target @Scan -StatePath $db
            $e1 = $r1 | ConvertTo-Evidence
            $n1 = @($e1 | Send-RelayNotice @NoticeArgs -PickupDirectory $pickup -StatePath $db)
            $n1.Status | Should -Be 'Written'
            $n1.Kind | Should -Be 'Notice'
            @($e1 | Send-RelayNotice @NoticeArgs -PickupDirectory $pickup -StatePath $db).Status | Should -Be 'Skipped'

            $r2 = Test-OpenRelay @target @Scan -StatePath $db
            $r2.NoticedAt | Should -Not -BeNullOrEmpty
            # Not due yet: nothing.
            @(Send-RelayNotice @NoticeArgs -PickupDirectory $pickup -StatePath $db -EscalateAfter ([timespan]::FromHours(1))).Count | Should -Be 0
            Start-Sleep -Milliseconds 1500
            $rem = @(Send-RelayNotice @NoticeArgs -PickupDirectory $pickup -StatePath $db -EscalateAfter ([timespan]::FromSeconds(1)))
            $rem.Count | Should -Be 1
            $rem[0].Kind | Should -Be 'Reminder'
            $rem[0].Status | Should -Be 'Written'
            $rem[0].Subject | Should -Match '^\[Reminder\] '
            $rem[0].Recipients | Should -Be @('ops@customer.example')
            $rem[0].Cc | Should -Contain 'team@example.net'
            @(Send-RelayNotice @NoticeArgs -PickupDirectory $pickup -StatePath $db -EscalateAfter ([timespan]::FromMinutes(5))).Count | Should -Be 0

            # -WhatIf sends and records nothing.
            $flip.Server.Mode = 'closed'
            $r3 = Test-OpenRelay @target @Scan -StatePath $db
            $r3.Change | Should -Be 'Fixed'
            $w = @(Send-RelayNotice @NoticeArgs -PickupDirectory $pickup -StatePath $db -Resolved -WhatIf)
            $w.Status | Should -Be 'WhatIf'
            $res = @(Send-RelayNotice @NoticeArgs -PickupDirectory $pickup -StatePath $db -Resolved)
            $res.Count | Should -Be 1
            $res[0].Kind | Should -Be 'Resolved'
            $res[0].Status | Should -Be 'Written'
            $res[0].Subject | Should -Match '^Resolved: .* is fixed'
            Get-Content -Raw $res[0].EmlPath | Should -Match 'Every relay attempt was refused'
            Get-Content -Raw $res[0].EmlPath | Should -Match 'In-Reply-To: <notice-'
            @(Send-RelayNotice @NoticeArgs -PickupDirectory $pickup -StatePath $db -Resolved).Count | Should -Be 0
            # Fixed: no more reminders.
            @(Send-RelayNotice @NoticeArgs -PickupDirectory $pickup -StatePath $db -EscalateAfter ([timespan]::FromSeconds(1))).Count | Should -Be 0

            @(Get-ChildItem $pickup -Filter *.eml).Count | Should -Be 3
            $records = @(Get-RelayHistory $db -Notice)
            $records[0].PSObject.TypeNames | Should -Contain 'Omr.RelayNoticeRecord'
            @($records.Kind | Sort-Object) | Should -Be @('Notice', 'Reminder', 'Resolved')
        }
        finally { $flip.Server.Stop() }
    }

    It 'a hidden server gets its resolved follow-up too' {
        $flip = New-Flip
        $db = New-Db 'hiddenFollowUp'
        $pickup = Join-Path $TestDrive ('pickup-' + [guid]::NewGuid().ToString('N').Substring(0, 6))
        $r1 = Test-OpenRelay -ComputerName $flip.Address -Domain closed.omr-lab.test @Scan -StatePath $db
        @($r1 | ConvertTo-Evidence | Send-RelayNotice @NoticeArgs -PickupDirectory $pickup -StatePath $db).Status | Should -Be 'Written'
        $flip.Server.Stop()
        $null = Test-OpenRelay -Domain closed.omr-lab.test @Scan -StatePath $db -ProviderMx closed.mx.omr-lab.test
        $res = @(Send-RelayNotice @NoticeArgs -PickupDirectory $pickup -StatePath $db -Resolved)
        $res.Count | Should -Be 1
        $res[0].Subject | Should -Match 'is hidden'
    }

    It 'two pwsh processes noticing the same domain at once send exactly one notice' {
        $flip = New-Flip
        try {
            $db = New-Db 'race'
            $pickup = Join-Path $TestDrive ('pickup-' + [guid]::NewGuid().ToString('N').Substring(0, 6))
            $xml = Join-Path $TestDrive ('r-' + [guid]::NewGuid().ToString('N').Substring(0, 6) + '.xml')
            Test-OpenRelay -ComputerName $flip.Address -Domain customer.example @Scan -StatePath $db | ConvertTo-Evidence | Export-Clixml $xml
            $module = Get-OmrModulePath
            $jobs = 1..2 | ForEach-Object {
                Start-Job -ArgumentList $module, $db, $pickup, $xml, $Lab.dnsServer -ScriptBlock {
                    param($Module, $Db, $Pickup, $Xml, $Dns)
                    Import-Module $Module
                    Import-Clixml $Xml | Send-RelayNotice -From noc@example.net -To ops@customer.example -MinimumProof RecipientAccepted -DnsServer $Dns `
                        -PickupDirectory $Pickup -StatePath $Db -Confirm:$false | ForEach-Object { "$($_.Status)" }
                }
            }
            $statuses = @($jobs | Receive-Job -Wait -AutoRemoveJob -ErrorAction Stop)
            @($statuses | Where-Object { $_ -eq 'Written' }).Count | Should -Be 1
            @($statuses | Where-Object { $_ -eq 'Skipped' }).Count | Should -Be 1
            @(Get-ChildItem $pickup -Filter *.eml).Count | Should -Be 1
        }
        finally { $flip.Server.Stop() }
    }

    It 'a JSON notice state of an earlier version is imported once into the sibling .db and left untouched' {
        $dir = Join-Path $TestDrive ('json-' + [guid]::NewGuid().ToString('N').Substring(0, 6))
        New-Item -ItemType Directory $dir | Out-Null
        $flip = New-Flip
        $evidence = Test-OpenRelay -ComputerName $flip.Address -Domain customer.example @Scan | ConvertTo-Evidence
        $flip.Server.Stop()
        $json = Join-Path $dir 'notices.json'
        $when = [datetime]::UtcNow.AddHours(-1).ToString('yyyy-MM-ddTHH:mm:ss.fffZ')
        Set-Content -LiteralPath $json -Value ('{"schema":"omr-notice-state/1","notices":[{"domain":"customer.example","host":"h","address":"' + $flip.Address + '","port":' + $Port + ',"probeId":"p","recipients":["ops@customer.example"],"messageId":"<m@x>","noticeId":"n","time":"' + $when + '","status":"Sent","run":"r"}]}')
        $before = Get-Content -Raw $json
        $n = @($evidence | Send-RelayNotice @NoticeArgs -PickupDirectory (Join-Path $dir 'p') -StatePath $json -WarningVariable warn 3>$null)
        $n.Status | Should -Be 'Skipped'
        $n.Reason | Should -Match 'already noticed'
        ($warn -join ' ') | Should -Match 'imported its 1 notice record'
        Join-Path $dir 'notices.db' | Should -Exist
        Get-Content -Raw $json | Should -Be $before
        @(Get-RelayHistory (Join-Path $dir 'notices.db') -Notice).Count | Should -Be 1
    }
}

Describe 'Invoke-RelayMonitor' -Tag Lab, History, Monitor {
    BeforeAll {
        function script:New-MonitorRoot {
            $root = Join-Path $TestDrive ('monitor-' + [guid]::NewGuid().ToString('N').Substring(0, 6))
            New-Item -ItemType Directory $root | Out-Null
            $root
        }
        function script:Get-Eml([string] $Folder) { @(Get-ChildItem -LiteralPath $Folder -Filter *.eml -ErrorAction SilentlyContinue) }
    }

    It 'runs the service over several runs on one state database: open -> still open -> fixed / hidden, notices, reminders and follow-ups once' {
        $root = New-MonitorRoot
        $fix = New-Flip
        $hide = New-Flip
        try {
            # Two old servers of closed.omr-lab.test were open before (recorded by a scan); the monitor tests them again.
            $db = "$root/omr.db"
            foreach ($f in $fix, $hide) { (Test-OpenRelay -ComputerName $f.Address -Domain closed.omr-lab.test @Scan -StatePath $db).Verdict | Should -Be 'Open' }
            $m = @{
                StatePath = $db; ReportPath = "$root/reports"; LogPath = "$root/log/monitor.log"
                VerifyAddress = 'relaycheck@noc.example.net'; MailDrop = $Lab.mailDrop; EvidenceWaitSec = 5; EvidencePath = "$root/evidence"
                PickupDirectory = "$root/pickup"; From = 'noc@example.net'; Cc = 'team@example.net'; MinimumProof = 'RecipientAccepted'
                DnsServer = $Lab.dnsServer; ScanPort = $Port; TimeoutSec = 20; ProviderMx = 'closed.mx.omr-lab.test'
            }

            # Run 1: open.omr-lab.test is new, both old servers still open; one verification each, notices for both domains.
            $run1 = 'open.omr-lab.test', 'closed.omr-lab.test', 'OPEN.omr-lab.test.' | Invoke-RelayMonitor @m
            $run1.PSObject.TypeNames | Should -Contain 'Omr.RelayMonitorRun'
            $run1.Domains | Should -Be 2 -Because 'a domain given twice is monitored once'
            $run1.ExitCode | Should -Be 1 -Because ($run1.Errors -join '; ')
            $run1.Errors.Count | Should -Be 0
            $run1.Open | Should -Be 3
            $run1.NewlyOpen | Should -Be 1
            $run1.StillOpen | Should -Be 2
            $run1.Closed | Should -Be 1
            $run1.Verified | Should -Be 1 -Because 'only the lab relay accepts DATA; the old servers refuse it'
            $run1.EvidenceCollected | Should -Be 1
            $run1.NoticesSent | Should -Be 2
            # The recorded scan result of the relay proven by delivery says so (the verification itself is not a recorded scan).
            @(Get-RelayHistory $db -Domain open.omr-lab.test).Proof | Should -Be @('Delivered')
            (Get-Eml "$root/pickup").Count | Should -Be 2
            $run1.ReportPath | Should -Exist
            $run1.TextReportPath | Should -Exist
            "$root/reports/report.html" | Should -Exist
            $run1.ReportPath | Should -Match 'relay-report-\d{8}-\d{6}\.html$'
            Get-Content -Raw "$root/log/monitor.log" | Should -Match 'Run ended: exit code 1'

            # Run 2: the same; nothing is noticed again, nothing verified again.
            $run2 = Invoke-RelayMonitor -Domain open.omr-lab.test, closed.omr-lab.test @m
            $run2.ExitCode | Should -Be 1
            $run2.StillOpen | Should -Be 3
            $run2.NewlyOpen | Should -Be 0
            $run2.Verified | Should -Be 0
            $run2.NoticesSent + $run2.RemindersSent + $run2.FollowUpsSent | Should -Be 0
            (Get-Eml "$root/pickup").Count | Should -Be 2

            # Run 3: one old server is fixed, the other hidden behind the provider's MX; the open relay gets its reminder.
            $fix.Server.Mode = 'closed'
            $hide.Server.Stop()
            $run3 = Invoke-RelayMonitor -Domain open.omr-lab.test, closed.omr-lab.test @m -EscalateAfter ([timespan]::FromMilliseconds(1))
            $run3.ExitCode | Should -Be 1
            $run3.Fixed | Should -Be 1
            $run3.Hidden | Should -Be 1
            $run3.StillOpen | Should -Be 1
            $run3.RemindersSent | Should -Be 1
            $run3.FollowUpsSent | Should -BeGreaterOrEqual 1
            $summary = Get-Content -Raw $run3.TextReportPath
            $summary | Should -Match '(?m)^Open now:\s+1\s*$'
            $summary | Should -Match '(?m)^Fixed:\s+1$'
            $summary | Should -Match '(?m)^Hidden:\s+1$'
            $summary | Should -Match '(?m)^Still open: 1, oldest first:'
            $summary | Should -Match '(?m)^Sent:\s+0 notices, 1 reminders, [12] follow-ups$'
            $before = (Get-Eml "$root/pickup").Count
            $before | Should -Be (2 + $run3.RemindersSent + $run3.FollowUpsSent)

            # Run 4: the follow-ups went out once.
            $run4 = Invoke-RelayMonitor -Domain closed.omr-lab.test @m
            $run4.ExitCode | Should -Be 0 -Because 'nothing of this run is open'
            $run4.FollowUpsSent | Should -Be 0
            (Get-Eml "$root/pickup").Count | Should -Be $before

            # -Domain completes from the domains the state database has recorded.
            foreach ($line in "Get-RelayHistory -StatePath '$db' -Domain op", "Invoke-RelayMonitor -StatePath '$db' -Domain OP") {
                @((TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches.CompletionText) | Should -Be @('open.omr-lab.test')
            }
            $line = "Get-RelayHistory -StatePath '$root/none.db' -Domain op"
            @((TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches | Where-Object CompletionText -EQ 'open.omr-lab.test').Count | Should -Be 0

            # Export-RelayReport writes the same report from the database alone, at any time.
            $exported = @(Export-RelayReport -StatePath $db -Path "$root/export.html" -TextPath "$root/export.txt" -PassThru)
            @($exported.Name) | Should -Be @('export.html', 'export.txt')
            Get-Content -Raw "$root/export.html" | Should -Match '<h2 id="still-open">'
            { Export-RelayReport -StatePath "$root/none.db" -Path "$root/x.html" -ErrorAction Stop } | Should -Throw -ErrorId 'StateNotFound,*'
            "$root/none.db" | Should -Not -Exist

            # The history: four monitor scans (and the seeding scans), every notice once.
            $noticed = @(Get-RelayHistory $db -Notice | Where-Object Kind -EQ 'Notice')
            $noticed.Count | Should -Be 3 -Because 'one record per host: open.omr-lab.test and the two old servers'
            @($noticed.MessageId | Sort-Object -Unique).Count | Should -Be 2 -Because 'one notice per domain'
            Get-Content -Raw $run4.TextReportPath | Should -Match '(?m)^Fixed:\s+0$' -Because 'the report is about the run that made it'
        }
        finally { $fix.Server.Stop(); $hide.Server.Stop() }
    }

    It 'a relay listed on a blocklist: the notice says so near its top, in the zone''s own words' {
        $root = New-MonitorRoot
        $run = Invoke-RelayMonitor -Domain open.omr-lab.test -StatePath "$root/omr.db" -VerifyAddress relaycheck@noc.example.net -MailDrop $Lab.mailDrop `
            -EvidenceWaitSec 5 -PickupDirectory "$root/pickup" -From noc@example.net -DnsServer $Lab.dnsServer -ScanPort $Port -TimeoutSec 20 `
            -Blocklist dnsbl.omr-lab.test -WarningAction SilentlyContinue
        $run.NoticesSent | Should -Be 1 -Because ($run.Errors -join '; ')
        # The text part, quoted-printable: soft line breaks removed.
        $eml = (Get-Content -Raw (Get-Eml "$root/pickup")[0].FullName) -replace '=\r?\n', ''
        $eml | Should -Match 'THE HARM HAS ALREADY BEGUN'
        $eml | Should -Match 'is listed on dnsbl\.omr-lab\.test \(127\.0\.0\.2\): "Open relay seen by the lab blocklist'
        $eml.IndexOf('THE HARM HAS ALREADY BEGUN') | Should -BeLessThan $eml.IndexOf('WHAT WE FOUND')
    }

    It 'with -NetworkAbuse the notice also reaches the network owner''s abuse desk, found over RDAP' {
        $root = New-MonitorRoot
        $run = Invoke-RelayMonitor -Domain open.omr-lab.test -StatePath "$root/omr.db" -VerifyAddress relaycheck@noc.example.net -MailDrop $Lab.mailDrop `
            -EvidenceWaitSec 5 -PickupDirectory "$root/pickup" -From noc@example.net -DnsServer $Lab.dnsServer -ScanPort $Port -TimeoutSec 20 `
            -NetworkAbuse -RdapServer $Lab.rdapServer -WarningAction SilentlyContinue
        $run.NoticesSent | Should -Be 1 -Because ($run.Errors -join '; ')
        $eml = (Get-Content -Raw (Get-Eml "$root/pickup")[0].FullName) -replace '=\r?\n', ''
        ($eml -replace '\r?\n[ \t]+', ' ') | Should -Match '(?m)^To: .*abuse@noc\.omr-lab\.test'
        $eml | Should -Match 'abuse@noc\.omr-lab\.test: network owner of 127\.66\.0\.\d+ \(OMR-LAB-NET'
        # The follow-ups go to the notice's recipients: the network owner is among them in the state.
        (Get-RelayHistory -StatePath "$root/omr.db" -Notice).Recipients | Should -Contain 'abuse@noc.omr-lab.test'
    }

    It 'a domain that fails is an error with its own id, exit code 2, and the report still written with it' {
        $root = New-MonitorRoot
        $errs = $null
        $run = Invoke-RelayMonitor -Domain no-such-domain.omr-lab.test, closed.omr-lab.test -StatePath "$root/omr.db" -ReportPath "$root/reports" `
            -PickupDirectory "$root/pickup" -From noc@example.net -DnsServer $Lab.dnsServer -ScanPort $Port -TimeoutSec 20 -ErrorVariable errs -ErrorAction SilentlyContinue
        $run.ExitCode | Should -Be 2
        $run.Tested | Should -Be 1
        @($run.Errors).Count | Should -Be 1
        $run.Errors[0].Step | Should -Be 'scan'
        $run.Errors[0].ErrorId | Should -BeLike 'DomainNotFound,*'
        @($errs).Count | Should -Be 1
        $errs[0].FullyQualifiedErrorId | Should -BeLike 'DomainNotFound,*'
        $errs[0].TargetObject | Should -Be 'no-such-domain.omr-lab.test'
        Get-Content -Raw "$root/reports/report.html" | Should -Match 'DomainNotFound'
        @(Get-RelayHistory "$root/omr.db").Count | Should -Be 1 -Because 'what the scan recorded stays'
    }

    It '-WhatIf sends nothing: no verification message, no notice, no report mail; the scan is recorded and the report written' {
        $root = New-MonitorRoot
        $drop = Join-Path $root 'drop'
        New-Item -ItemType Directory $drop | Out-Null
        $run = Invoke-RelayMonitor -Domain open.omr-lab.test -StatePath "$root/omr.db" -ReportPath "$root/reports" -ReportTo noc-team@example.net `
            -VerifyAddress relaycheck@noc.example.net -MailDrop $drop -EvidenceWaitSec 1 -PickupDirectory "$root/pickup" -From noc@example.net `
            -MinimumProof RecipientAccepted -DnsServer $Lab.dnsServer -ScanPort $Port -TimeoutSec 20 -WhatIf
        $run.Open | Should -Be 1
        $run.Verified | Should -Be 0
        $run.NoticesSent | Should -Be 0
        $run.ReportMail | Should -Be 'WhatIf'
        (Get-Eml "$root/pickup").Count | Should -Be 0
        @(Get-ChildItem $Lab.mailDrop -File | Where-Object LastWriteTime -GT $run.StartTime.LocalDateTime).Count | Should -Be 0
        "$root/reports/report.html" | Should -Exist
        @(Get-RelayHistory "$root/omr.db").Count | Should -Be 1
    }

    It 'mails the report: HTML with its text summary as the text/plain alternative' {
        $root = New-MonitorRoot
        $run = Invoke-RelayMonitor -Domain closed.omr-lab.test -StatePath "$root/omr.db" -ReportTo noc-team@example.net `
            -PickupDirectory "$root/pickup" -From noc@example.net -DnsServer $Lab.dnsServer -ScanPort $Port -TimeoutSec 20
        $run.ExitCode | Should -Be 0
        $run.ReportMail | Should -Be 'Written'
        $run.ReportPath | Should -BeNullOrEmpty -Because 'no -ReportPath: the report is only mailed'
        $eml = @(Get-Eml "$root/pickup")
        $eml.Count | Should -Be 1
        $mail = Get-Content -Raw $eml[0].FullName
        $mail | Should -Match '(?m)^To: noc-team@example\.net'
        $mail | Should -Match '(?m)^Subject: .*0 open'
        $mail | Should -Match 'multipart/alternative'
        $mail | Should -Match 'text/plain'
        $mail | Should -Match 'text/html'
    }

    It 'reads domains from a text file and a CSV file, and from inventory objects' {
        $root = New-MonitorRoot
        $txt = Join-Path $root 'domains.txt'
        '# customers', 'closed.omr-lab.test', '', 'backup.omr-lab.test  # the backup MX one' | Set-Content -LiteralPath $txt
        $csv = Join-Path $root 'domains.csv'
        [pscustomobject]@{ DomainName = 'closed.omr-lab.test' }, [pscustomobject]@{ DomainName = 'bracketmx.omr-lab.test' } | Export-Csv -LiteralPath $csv
        $common = @{ StatePath = "$root/omr.db"; PickupDirectory = "$root/pickup"; From = 'noc@example.net'; DnsServer = $Lab.dnsServer; ScanPort = $Port; TimeoutSec = 20; ErrorAction = 'SilentlyContinue' }
        (Invoke-RelayMonitor -DomainFile $txt @common).Domains | Should -Be 2
        (Invoke-RelayMonitor -DomainFile $csv @common).Domains | Should -Be 2
        ([pscustomobject]@{ DNSRoot = 'closed.omr-lab.test' } | Invoke-RelayMonitor @common).Domains | Should -Be 1
        { Invoke-RelayMonitor -DomainFile "$root/missing.txt" @common -ErrorAction Stop } | Should -Throw -ErrorId 'DomainFileNotFound,*'
    }

    It 'refuses contradictory or missing delivery and evidence options before it starts' -ForEach @(
        @{ Extra = @{ }; Id = 'NoticeDeliveryRequired' }
        @{ Extra = @{ PickupDirectory = 'p'; SmtpServer = 'smtp.example.net' }; Id = 'NoticeDeliveryRequired' }
        @{ Extra = @{ PickupDirectory = 'p'; VerifyAddress = 'r@noc.example.net' }; Id = 'EvidenceSourceRequired' }
        @{ Extra = @{ PickupDirectory = 'p'; MailDrop = 'd'; MailServer = 'imap.example.net' }; Id = 'EvidenceSourceAmbiguous' }
        @{ Extra = @{ PickupDirectory = 'p'; CredentialPath = 'c.xml' }; Id = 'MailServerRequired' }
        @{ Extra = @{ PickupDirectory = 'p'; MailServer = 'imap.example.net' }; Id = 'CredentialMissing' }
        @{ Extra = @{ PickupDirectory = 'p'; MailServer = 'imap.example.net'; CredentialPath = 'c.xml'; SecretName = 's' }; Id = 'CredentialAmbiguous' }
        @{ Extra = @{ PickupDirectory = 'p'; ReportTo = 'not a mailbox' }; Id = 'InvalidAddress' }
        @{ Extra = @{ PickupDirectory = 'p'; MinimumProof = 'None' }; Id = 'InvalidMinimumProof' }
        @{ Extra = @{ PickupDirectory = 'p'; EscalateAfter = [timespan]::Zero }; Id = 'InvalidEscalateAfter' }
    ) {
        $root = New-MonitorRoot
        { Invoke-RelayMonitor -Domain closed.omr-lab.test -StatePath "$root/omr.db" -From noc@example.net @Extra -ErrorAction Stop } | Should -Throw -ErrorId "$Id,*"
        "$root/omr.db" | Should -Not -Exist
    }
}

Describe 'examples/Invoke-RelayMonitor.ps1' -Tag Lab, History, Example {
    It 'is a thin wrapper: passes its arguments on and exits with the run''s exit code' {
        $monitor = Join-Path (Split-Path -Parent $PSScriptRoot) 'examples/Invoke-RelayMonitor.ps1'
        $pwsh = Get-OmrPwshCommand
        $root = Join-Path $TestDrive ('wrapper-' + [guid]::NewGuid().ToString('N').Substring(0, 6))
        $arguments = @('-NoProfile', '-NonInteractive', '-File', $monitor, '-ModulePath', (Get-OmrModulePath), '-StatePath', "$root/omr.db",
            '-PickupDirectory', "$root/pickup", '-From', 'noc@example.net', '-DnsServer', $Lab.dnsServer, '-ScanPort', "$Port", '-TimeoutSec', '20')
        $exe = $pwsh[0]
        $rest = @($pwsh | Select-Object -Skip 1)
        $plain = { param($out) ($out | Out-String) -replace '\x1b\[[0-9;]*[A-Za-z]', '' }
        $out = & $exe @rest @arguments -Domain open.omr-lab.test 2>&1
        $LASTEXITCODE | Should -Be 1 -Because (& $plain $out)
        $out = & $exe @rest @arguments -Domain closed.omr-lab.test 2>&1
        $LASTEXITCODE | Should -Be 0 -Because (& $plain $out)
        $out = & $exe @rest @arguments -Domain no-such-domain.omr-lab.test 2>&1
        $LASTEXITCODE | Should -Be 2 -Because (& $plain $out)
    }
}
