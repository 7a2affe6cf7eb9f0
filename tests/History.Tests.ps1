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

    if (-not ('OmrTest.FlipSmtp' -as [type])) {
        Add-Type -TypeDefinition @'
using System;
using System.IO;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Threading;
namespace OmrTest {
    /// A minimal SMTP server: Mode "open" accepts every RCPT, "closed" refuses it with 550, "shutout"
    /// greets 554 (the tester's address is blocked), "refused" answers 550 to EHLO, HELO and MAIL,
    /// "blocked" refuses every RCPT because of the client; Stop() closes the port.
    public sealed class FlipSmtp : IDisposable {
        private readonly TcpListener _listener;
        private readonly Thread _thread;
        private volatile bool _stopped;
        public volatile string Mode = "open";
        public FlipSmtp(string address, int port) {
            _listener = new TcpListener(IPAddress.Parse(address), port);
            _listener.Start();
            _thread = new Thread(Loop) { IsBackground = true };
            _thread.Start();
        }
        private void Loop() {
            while (!_stopped) {
                TcpClient c;
                try { c = _listener.AcceptTcpClient(); } catch { return; }
                new Thread(() => Serve(c)) { IsBackground = true }.Start();
            }
        }
        private void Serve(TcpClient c) {
            using (c) {
                try {
                    c.ReceiveTimeout = 10000;
                    var s = c.GetStream();
                    var r = new StreamReader(s, Encoding.ASCII);
                    var w = new StreamWriter(s, Encoding.ASCII) { NewLine = "\r\n", AutoFlush = true };
                    var mode = Mode;
                    w.WriteLine(mode == "shutout" ? "554 5.7.1 Access denied for your address" : "220 flip.test ESMTP");
                    string line;
                    while ((line = r.ReadLine()) != null) {
                        var cmd = line.Length >= 4 ? line.Substring(0, 4).ToUpperInvariant() : line.ToUpperInvariant();
                        if (mode == "shutout" && cmd != "QUIT") w.WriteLine("503 5.5.1 no SMTP service for you");
                        else if (mode == "refused" && (cmd == "EHLO" || cmd == "HELO" || cmd == "MAIL")) w.WriteLine("550 5.7.1 Access denied for your address");
                        else if (cmd == "EHLO" || cmd == "HELO") w.WriteLine("250 flip.test");
                        else if (cmd == "MAIL") w.WriteLine("250 2.1.0 ok");
                        else if (cmd == "RCPT") w.WriteLine(mode == "open" ? "250 2.1.5 ok"
                            : mode == "blocked" ? "554 5.7.1 <unknown[127.0.0.1]>: Client host rejected: Access denied" : "550 5.7.1 Relaying denied");
                        else if (cmd == "RSET" || cmd == "NOOP") w.WriteLine("250 ok");
                        else if (cmd == "QUIT") { w.WriteLine("221 bye"); return; }
                        else if (cmd == "DATA") w.WriteLine("554 5.7.1 no data here");
                        else w.WriteLine("502 5.5.2 not implemented");
                    }
                } catch { }
            }
        }
        public void Stop() { _stopped = true; try { _listener.Stop(); } catch { } }
        public void Dispose() { Stop(); }
    }
}
'@
    }

    function script:New-Flip {
        # A free loopback address outside the lab's 127.66.0.x, on the lab's port (so MX-based runs test it on that port too).
        for ($i = 0; $i -lt 20; $i++) {
            $address = "127.67.$(Get-Random -Minimum 1 -Maximum 250).$(Get-Random -Minimum 1 -Maximum 250)"
            try { return [pscustomobject]@{ Address = $address; Server = [OmrTest.FlipSmtp]::new($address, $Port) } } catch { Write-Verbose "busy: $address" }
        }
        throw 'No free loopback address for the test SMTP server.'
    }

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

Describe 'examples/Invoke-RelayMonitor.ps1' -Tag Lab, History, Example {
    BeforeAll {
        $script:Monitor = Join-Path (Split-Path -Parent $PSScriptRoot) 'examples/Invoke-RelayMonitor.ps1'
        $script:Pwsh = Get-OmrPwshCommand
        function script:Invoke-Monitor([string[]] $Arguments) {
            $exe = $Pwsh[0]
            $rest = @($Pwsh | Select-Object -Skip 1)
            $out = & $exe @rest -NoProfile -NonInteractive -File $Monitor @Arguments 2>&1
            [pscustomobject]@{ Code = $LASTEXITCODE; Output = ($out | Out-String) }
        }
    }

    It 'runs the whole service: notice once, report and log, exit 1 while open, 0 when nothing is open, 2 on errors' {
        $root = Join-Path $TestDrive ('monitor-' + [guid]::NewGuid().ToString('N').Substring(0, 6))
        New-Item -ItemType Directory $root | Out-Null
        $csv = Join-Path $root 'domains.csv'
        'Domain', 'open.omr-lab.test', 'closed.omr-lab.test' | Set-Content -LiteralPath $csv
        $base = @('-StatePath', "$root/omr.db", '-ReportPath', "$root/reports", '-LogPath', "$root/log/monitor.log",
            '-VerifyAddress', 'relaycheck@noc.example.net', '-MailDrop', $Lab.mailDrop, '-EvidenceWaitSec', '5', '-EvidencePath', "$root/evidence",
            '-PickupDirectory', "$root/pickup", '-From', 'noc@example.net', '-Cc', 'team@example.net',
            '-DnsServer', $Lab.dnsServer, '-Port', "$Port", '-TimeoutSec', '20', '-ModulePath', (Get-OmrModulePath))

        $run1 = Invoke-Monitor ($base + @('-DomainFile', $csv))
        $run1.Code | Should -Be 1 -Because $run1.Output
        @(Get-ChildItem "$root/pickup" -Filter *.eml).Count | Should -Be 1
        $report = Get-Content -Raw "$root/reports/report.html"
        $report | Should -Match '<h2>Newly open \(1\)</h2>'
        $report | Should -Match 'open\.omr-lab\.test'
        $report | Should -Match '<h2>Errors</h2><p>None.</p>'
        Get-Content -Raw "$root/log/monitor.log" | Should -Match 'Run ended: exit code 1'

        $txt = Join-Path $root 'domains.txt'
        '# customers', 'open.omr-lab.test', '', 'closed.omr-lab.test  # the closed one' | Set-Content -LiteralPath $txt
        $run2 = Invoke-Monitor ($base + @('-DomainFile', $txt))
        $run2.Code | Should -Be 1 -Because $run2.Output
        @(Get-ChildItem "$root/pickup" -Filter *.eml).Count | Should -Be 1 -Because 'the open relay was noticed already'
        $report = Get-Content -Raw "$root/reports/report.html"
        $report | Should -Match '<h2>Still open \(1\)</h2>'
        $report | Should -Match '<h2>Newly open</h2><p>None.</p>'

        $run3 = Invoke-Monitor ($base + @('-Domain', 'closed.omr-lab.test'))
        $run3.Code | Should -Be 0 -Because $run3.Output

        $run4 = Invoke-Monitor ($base + @('-Domain', 'no-such-domain.omr-lab.test'))
        $run4.Code | Should -Be 2 -Because $run4.Output
        Get-Content -Raw "$root/reports/report.html" | Should -Match 'DomainNotFound'
        @(Get-RelayHistory "$root/omr.db" -Notice).Count | Should -Be 1
    }
}
