#Requires -Version 7.2
# Test-OpenRelay -Exclude, -ExcludePath and -ExcludeHosted (issue 19, "Hosts not to test"): an excluded host gets
# one result with the rule that excluded it, and no connection; bad entries are named; history treats it as not tested.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-OmrModule
    $script:Lab = Start-OmrLab
    $script:P = @{ DnsServer = $Lab.dnsServer; Port = $Lab.smtpPort; TimeoutSec = 10 }
    $script:OpenAddress = ($Lab.servers | Where-Object name -EQ 'open').address
}

AfterAll {
    Stop-OmrLab $Lab
}

Describe 'Test-OpenRelay -Exclude' -Tag Lab, Exclude {
    It 'excludes an MX host by <Case>, with one result that names the entry' -ForEach @(
        @{ Case = 'name'; Entry = 'open.mx.omr-lab.test' }
        @{ Case = 'wildcard'; Entry = '*.MX.omr-lab.test' }
        @{ Case = 'address'; Entry = '127.66.0.1' }
        @{ Case = 'CIDR network'; Entry = '127.66.0.0/16' }
        @{ Case = 'IPv4-mapped IPv6 address'; Entry = '::ffff:127.66.0.1' }
    ) {
        $Lab.servers.Where({ $_.name -eq 'open' })[0].address | Should -Be '127.66.0.1'
        $r = @(Test-OpenRelay -Domain open.omr-lab.test @P -Exclude $Entry, '2001:db8::/32')
        $r.Count | Should -Be 1
        $r[0].Verdict | Should -Be ([Omr.RelayVerdict]::Excluded)
        $r[0].ReasonCode | Should -Be 'Excluded'
        $r[0].Reason | Should -Be "Not tested: excluded by -Exclude '$Entry'. No connection was made."
        $r[0].ComputerName | Should -Be 'open.mx.omr-lab.test'
        $r[0].Address | Should -Be $OpenAddress
        $r[0].Connections | Should -Be 0
        $r[0].Tests | Should -BeNullOrEmpty
        "$r" | Should -BeLike '*Excluded: Not tested*'
    }

    It 'tests what no entry matches: the same domain without the exclusion is Open, a wildcard spares other zones' {
        $r = @(Test-OpenRelay -Domain open.omr-lab.test, closed.omr-lab.test @P -Exclude '*.mx.example.net', '192.0.2.0/24' -ExcludeHosted)
        ($r | Sort-Object Domain | ForEach-Object { "$($_.Domain) $($_.Verdict)" }) -join '; ' | Should -Be 'closed.omr-lab.test Closed; open.omr-lab.test Open'
    }

    It 'excludes a -ComputerName and makes no connection to it (a listener that would see one)' {
        $listener = [System.Net.Sockets.TcpListener]::new([System.Net.IPAddress]::Loopback, 0)
        $listener.Start()
        try {
            $port = $listener.LocalEndpoint.Port
            $r = @(Test-OpenRelay -ComputerName 127.0.0.1 -Port $port -TimeoutSec 2 -Exclude 127.0.0.0/8)
            $r.Count | Should -Be 1
            $r[0].Verdict | Should -Be 'Excluded'
            Start-Sleep -Milliseconds 300
            $listener.Pending() | Should -BeFalse -Because 'nothing may connect to an excluded host'
            # Without -Exclude the same command connects: the check above can fail.
            $again = @(Test-OpenRelay -ComputerName 127.0.0.1 -Port $port -TimeoutSec 2)
            $again[0].Verdict | Should -Not -Be 'Excluded'
            $listener.Pending() | Should -BeTrue
        }
        finally { $listener.Stop() }
    }

    It 'reads -ExcludePath: one entry a line, # comments, the comment in the Reason' {
        $file = Join-Path $TestDrive 'exclude.txt'
        Set-Content -LiteralPath $file -Value "# hosts we must not test`n`n192.0.2.0/24`n127.66.0.1   # the lab's open server, by agreement`n"
        $r = @(Test-OpenRelay -Domain open.omr-lab.test, closed.omr-lab.test @P -ExcludePath $file)
        $open = $r | Where-Object Domain -EQ 'open.omr-lab.test'
        $open.Verdict | Should -Be 'Excluded'
        $open.Reason | Should -Be "Not tested: excluded by -ExcludePath '$file' line 4 '127.66.0.1' (the lab's open server, by agreement). No connection was made."
        ($r | Where-Object Domain -EQ 'closed.omr-lab.test').Verdict | Should -Be 'Closed'
    }

    It 'stops with InvalidExclusion, naming the entry, for <Case>' -ForEach @(
        @{ Case = 'host bits set'; Entry = '192.0.2.5/24'; Why = 'did you mean 192.0.2.0/24' }
        @{ Case = 'an incomplete address'; Entry = '10.1'; Why = 'not a complete IPv4 address' }
        @{ Case = 'a mail address'; Entry = 'postmaster@example.com'; Why = "'@' cannot be in a host name" }
        @{ Case = 'a bad prefix'; Entry = '2001:db8::/200'; Why = 'prefix length' }
    ) {
        $err = { Test-OpenRelay -Domain open.omr-lab.test @P -Exclude 'mx.example.net', $Entry } | Should -Throw -PassThru
        $err.FullyQualifiedErrorId | Should -BeLike 'InvalidExclusion,*'
        $err.CategoryInfo.Category | Should -Be 'InvalidArgument'
        $err.TargetObject | Should -Be $Entry
        $err.Exception.Message | Should -BeLike "-Exclude: '$Entry' is not a host name, address or network to exclude: *$Why*"
    }

    It 'stops with InvalidExclusion naming the file and line, and ExcludePathNotFound for a missing file' {
        $file = Join-Path $TestDrive 'bad.txt'
        Set-Content -LiteralPath $file -Value "mx.example.net`nexample.com/24"
        $err = { Test-OpenRelay -Domain open.omr-lab.test @P -ExcludePath $file } | Should -Throw -PassThru
        $err.FullyQualifiedErrorId | Should -BeLike 'InvalidExclusion,*'
        $err.Exception.Message | Should -BeLike "-ExcludePath '$file' line 2: 'example.com/24' is not*"
        $missing = { Test-OpenRelay -Domain open.omr-lab.test @P -ExcludePath (Join-Path $TestDrive 'none.txt') } | Should -Throw -PassThru
        $missing.FullyQualifiedErrorId | Should -BeLike 'ExcludePathNotFound,*'
        $missing.CategoryInfo.Category | Should -Be 'ObjectNotFound'
    }

    It 'loads the shipped -ExcludeHosted list (said with -Verbose)' {
        $verbose = Test-OpenRelay -Domain closed.omr-lab.test @P -ExcludeHosted -Verbose 4>&1 | Where-Object { $_ -is [System.Management.Automation.VerboseRecord] }
        ($verbose.Message -match '^Not tested: \d+ exclusion\(s\): \*\.mail\.protection\.outlook\.com') | Should -Not -BeNullOrEmpty
    }
}

Describe 'Excluded in the history' -Tag Lab, Exclude, History {
    It 'keeps an open case open (Unconfirmed, OpenSince kept): never Fixed, and StillOpen when tested again' {
        $db = Join-Path $TestDrive ('ex-' + [guid]::NewGuid().ToString('N').Substring(0, 6) + '.db')
        $r1 = Test-OpenRelay -Domain open.omr-lab.test @P -StatePath $db
        $r1.Verdict | Should -Be 'Open'
        $r2 = Test-OpenRelay -Domain open.omr-lab.test @P -StatePath $db -Exclude '*.mx.omr-lab.test'
        $r2.Verdict | Should -Be 'Excluded'
        $r2.Change | Should -Be 'Unconfirmed'
        $r2.OpenSince | Should -Be $r1.OpenSince
        $r3 = Test-OpenRelay -Domain open.omr-lab.test @P -StatePath $db
        $r3.Verdict | Should -Be 'Open'
        $r3.Change | Should -Be 'StillOpen'
        $r3.OpenSince | Should -Be $r1.OpenSince
        $h = @(Get-RelayHistory -StatePath $db -Verdict Excluded)
        $h.Count | Should -Be 1
        $h[0].ReasonCode | Should -Be 'Excluded'
        @(Get-RelayHistory -StatePath $db -Change Fixed) | Should -BeNullOrEmpty
    }
}

Describe 'Invoke-RelayMonitor -Exclude' -Tag Lab, Exclude, Monitor {
    It 'passes the exclusions to its scan: the excluded host is recorded as Excluded and not counted as tested' {
        $root = Join-Path $TestDrive ('monitor-ex-' + [guid]::NewGuid().ToString('N').Substring(0, 6))
        $run = Invoke-RelayMonitor -Domain open.omr-lab.test, closed.omr-lab.test -StatePath "$root/omr.db" -ReportPath "$root/reports" `
            -DnsServer $Lab.dnsServer -ScanPort $Lab.smtpPort -TimeoutSec 10 -Exclude 'open.mx.omr-lab.test' -ExcludeHosted -From 'noc@example.net' -PickupDirectory "$root/pickup"
        $run.Errors.Count | Should -Be 0 -Because ($run.Errors -join '; ')
        $run.Tested | Should -Be 1
        $run.Open | Should -Be 0
        $run.ExitCode | Should -Be 0
        $h = @(Get-RelayHistory -StatePath "$root/omr.db" -Verdict Excluded)
        $h.Count | Should -Be 1
        $h[0].ComputerName | Should -Be 'open.mx.omr-lab.test'
    }
}
