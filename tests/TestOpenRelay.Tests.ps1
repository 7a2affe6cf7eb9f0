#Requires -Version 7.2
# Test-OpenRelay as a user sees it, against the in-process lab (out/lab/Omr.Lab.dll):
# parameter binding from real inventories, one result per address, errors, verdicts for every
# lab server, and the shape of the output objects.

BeforeDiscovery {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    # The lab's population is fixed: read it once to generate one test per server and domain.
    $manifest = Get-OmrLabManifest
    $servers = @($manifest.servers | Where-Object { $_.PSObject.Properties['domain'] -and $_.domain } | ForEach-Object {
            @{ Server = $_; Name = $_.name; Domain = $_.domain; Expected = $_.expectedVerdict }
        })
    $openServers = @($servers | Where-Object Expected -EQ 'Open')
    # The domains that are not simply one server's own domain (those are covered per server).
    $serverDomains = @($servers | ForEach-Object Domain)
    $labDomains = @($manifest.domains | Where-Object name -NotIn $serverDomains | ForEach-Object { @{ Domain = $_.name; Expect = @($_.expect) } })
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-OmrModule
    $script:Lab = Start-OmrLab
    $script:P = @{ DnsServer = $Lab.dnsServer; Port = $Lab.smtpPort; TimeoutSec = 10 }
    $script:Zone = 'omr-lab.test'
    $script:ServerByAddress = @{}
    foreach ($s in $Lab.servers) { $ServerByAddress[$s.address] = $s }

    function script:Invoke-Relay {
        # Runs Test-OpenRelay with the lab parameters; returns results and errors separately.
        param([Parameter(ValueFromPipeline)] $InputObject, [hashtable] $Extra = @{})
        begin { $items = [System.Collections.Generic.List[object]]::new() }
        process { if ($null -ne $InputObject) { $items.Add($InputObject) } }
        end {
            $errs = $null
            $params = $P.Clone()
            foreach ($k in $Extra.Keys) { $params[$k] = $Extra[$k] }
            $results = if ($items.Count) {
                $items | Test-OpenRelay @params -ErrorVariable errs -ErrorAction SilentlyContinue
            }
            else {
                Test-OpenRelay @params -ErrorVariable errs -ErrorAction SilentlyContinue
            }
            [pscustomobject]@{ Results = @($results); Errors = @($errs) }
        }
    }
}

AfterAll {
    Stop-OmrLab $Lab
}

Describe 'Binding from the pipeline' -Tag Lab, Binding {
    It 'treats a piped string as a domain' {
        $out = 'open.omr-lab.test' | Invoke-Relay
        $out.Errors | Should -BeNullOrEmpty
        $out.Results.Count | Should -Be 1
        $out.Results[0].Verdict | Should -Be 'Open'
        $out.Results[0].Domain | Should -Be 'open.omr-lab.test'
        $out.Results[0].Target | Should -Be 'open.omr-lab.test'
    }

    It 'takes -Domain by position' {
        $r = Test-OpenRelay 'closed.omr-lab.test' @P
        @($r).Count | Should -Be 1
        $r.Domain | Should -Be 'closed.omr-lab.test'
        $r.Verdict | Should -Be 'Closed'
    }

    It 'binds Get-AcceptedDomain objects by DomainName' {
        $out = [pscustomobject]@{ DomainName = 'closed.omr-lab.test'; Name = 'x' } | Invoke-Relay
        $out.Errors | Should -BeNullOrEmpty
        $out.Results.Count | Should -Be 1
        $out.Results[0].Domain | Should -Be 'closed.omr-lab.test'
        $out.Results[0].Verdict | Should -Be 'Closed'
    }

    It 'binds Get-ADDomain objects by DNSRoot' {
        $out = [pscustomobject]@{ DNSRoot = 'open.omr-lab.test'; Name = 'OPEN'; NetBIOSName = 'OPEN' } | Invoke-Relay
        $out.Errors | Should -BeNullOrEmpty
        $out.Results.Count | Should -Be 1
        $out.Results[0].Domain | Should -Be 'open.omr-lab.test'
        $out.Results[0].Verdict | Should -Be 'Open'
    }

    It 'tests Get-ExchangeServer objects (Fqdn) directly, without an MX lookup' {
        $out = [pscustomobject]@{ Fqdn = 'closed.mx.omr-lab.test'; Domain = 'closed.omr-lab.test'; Name = 'EX1' } | Invoke-Relay
        $out.Errors | Should -BeNullOrEmpty
        $out.Results.Count | Should -Be 1
        $out.Results[0].ComputerName | Should -Be 'closed.mx.omr-lab.test'
        $out.Results[0].Preference | Should -BeNullOrEmpty
        $out.Results[0].Verdict | Should -Be 'Closed'
    }

    It 'tests Get-ADComputer objects (DNSHostName) directly' {
        $out = [pscustomobject]@{ DNSHostName = 'open.mx.omr-lab.test'; Name = 'OPEN' } | Invoke-Relay
        $out.Errors | Should -BeNullOrEmpty
        $out.Results.Count | Should -Be 1
        $out.Results[0].ComputerName | Should -Be 'open.mx.omr-lab.test'
        $out.Results[0].Preference | Should -BeNullOrEmpty
        $out.Results[0].Verdict | Should -Be 'Open'
    }

    It 'tests an IP address given as -ComputerName' {
        $open = $Lab.servers | Where-Object name -EQ 'open'
        $r = Test-OpenRelay -ComputerName $open.address @P
        @($r).Count | Should -Be 1
        $r.Address | Should -Be $open.address
        $r.Verdict | Should -Be 'Open'
    }

    Context 'objects re-imported with <Via>' -ForEach @(
        @{ Via = 'Export-Clixml/Import-Clixml' }
        @{ Via = 'ConvertTo-Json/ConvertFrom-Json' }
    ) {
        BeforeAll {
            function script:Convert-Through([object[]] $InputObject) {
                if ($Via -like 'Export-Clixml*') {
                    $file = Join-Path $TestDrive ("{0}.xml" -f [guid]::NewGuid())
                    $InputObject | Export-Clixml -LiteralPath $file
                    Import-Clixml -LiteralPath $file
                }
                else {
                    ConvertTo-Json -InputObject $InputObject -Depth 3 | ConvertFrom-Json | ForEach-Object { $_ }
                }
            }
        }

        It 'binds a saved Get-AcceptedDomain object' {
            $saved = Convert-Through @([pscustomobject]@{ DomainName = 'closed.omr-lab.test'; Name = 'x' })
            $out = $saved | Invoke-Relay
            $out.Errors | Should -BeNullOrEmpty
            $out.Results.Domain | Should -Be 'closed.omr-lab.test'
        }

        It 'binds a saved Get-ADDomain object' {
            $saved = Convert-Through @([pscustomobject]@{ DNSRoot = 'open.omr-lab.test'; Name = 'OPEN'; NetBIOSName = 'OPEN' })
            $out = $saved | Invoke-Relay
            $out.Errors | Should -BeNullOrEmpty
            $out.Results.Domain | Should -Be 'open.omr-lab.test'
        }

        It 'binds a saved Get-ExchangeServer object as a host' {
            $saved = Convert-Through @([pscustomobject]@{ Fqdn = 'closed.mx.omr-lab.test'; Domain = 'closed.omr-lab.test'; Name = 'EX1' })
            $out = $saved | Invoke-Relay
            $out.Errors | Should -BeNullOrEmpty
            $out.Results.ComputerName | Should -Be 'closed.mx.omr-lab.test'
            $out.Results.Preference | Should -BeNullOrEmpty
        }

        It 'binds saved Get-ADComputer objects as hosts' {
            $saved = Convert-Through @(
                [pscustomobject]@{ DNSHostName = 'open.mx.omr-lab.test'; Name = 'OPEN' }
                [pscustomobject]@{ DNSHostName = 'closed.mx.omr-lab.test'; Name = 'CLOSED' })
            $out = $saved | Invoke-Relay
            $out.Errors | Should -BeNullOrEmpty
            @($out.Results.ComputerName | Sort-Object) | Should -Be @('closed.mx.omr-lab.test', 'open.mx.omr-lab.test')
        }
    }
}

Describe 'One result per address' -Tag Lab {
    It 'gives backup.omr-lab.test two results: closed primary (10) and open backup (20)' {
        $out = Invoke-Relay -Extra @{ Domain = 'backup.omr-lab.test' }
        $out.Errors | Should -BeNullOrEmpty
        $r = @($out.Results | Sort-Object Preference)
        $r.Count | Should -Be 2
        $r[0].Preference | Should -Be 10
        $r[0].Verdict | Should -Be 'Closed'
        $r[0].ComputerName | Should -Be 'closed.mx.omr-lab.test'
        $r[1].Preference | Should -Be 20
        $r[1].Verdict | Should -Be 'Open'
        $r[1].ComputerName | Should -Be 'open.mx.omr-lab.test'
        $r.Domain | Should -Be @('backup.omr-lab.test', 'backup.omr-lab.test')
    }

    It 'gives dualstack.omr-lab.test one IPv4 and one IPv6 result' {
        $out = Invoke-Relay -Extra @{ Domain = 'dualstack.omr-lab.test' }
        $out.Errors | Should -BeNullOrEmpty
        $out.Results.Count | Should -Be 2
        $families = @($out.Results | ForEach-Object { ([System.Net.IPAddress]$_.Address).AddressFamily.ToString() } | Sort-Object)
        $families | Should -Be @('InterNetwork', 'InterNetworkV6')
        ($out.Results | Where-Object { $_.Address -eq '::1' }).Verdict | Should -Be 'Open'
        ($out.Results | Where-Object { $_.Address -ne '::1' }).Verdict | Should -Be 'Closed'
    }

    It 'gives nullmx.omr-lab.test one NoMail result and no error' {
        $out = Invoke-Relay -Extra @{ Domain = 'nullmx.omr-lab.test' }
        $out.Errors | Should -BeNullOrEmpty
        $out.Results.Count | Should -Be 1
        $out.Results[0].Verdict | Should -Be 'NoMail'
        $out.Results[0].Domain | Should -Be 'nullmx.omr-lab.test'
    }

    It 'tests the implicit MX of nomx.omr-lab.test (the closed server''s address)' {
        $closed = $Lab.servers | Where-Object name -EQ 'closed'
        $out = Invoke-Relay -Extra @{ Domain = 'nomx.omr-lab.test' }
        $out.Errors | Should -BeNullOrEmpty
        $out.Results.Count | Should -Be 1
        $out.Results[0].Address | Should -Be $closed.address
        $out.Results[0].Verdict | Should -Be 'Closed'
        $out.Results[0].Preference | Should -BeNullOrEmpty
    }

    It 'tests every port given with -Port' {
        $out = Invoke-Relay -Extra @{ Domain = 'open.omr-lab.test'; Port = @($Lab.smtpPort, 9) ; TimeoutSec = 5 }
        $out.Results.Count | Should -Be 2
        ($out.Results | Where-Object Port -EQ $Lab.smtpPort).Verdict | Should -Be 'Open'
        ($out.Results | Where-Object Port -EQ 9).Verdict | Should -Be 'Unreachable'
    }
}

Describe 'Errors' -Tag Lab, Errors {
    It 'writes DomainNotFound for a domain that does not exist, and no result' {
        $out = Invoke-Relay -Extra @{ Domain = 'nonexistent.omr-lab.test' }
        $out.Results | Should -BeNullOrEmpty
        $out.Errors.Count | Should -Be 1
        $out.Errors[0].FullyQualifiedErrorId | Should -BeLike 'DomainNotFound,*'
        $out.Errors[0].TargetObject | Should -Be 'nonexistent.omr-lab.test'
        $out.Errors[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
    }

    It 'writes NoMailHost for a domain whose only MX does not exist' {
        $out = Invoke-Relay -Extra @{ Domain = 'dangling.omr-lab.test' }
        $out.Results | Should -BeNullOrEmpty
        $out.Errors.Count | Should -Be 1
        $out.Errors[0].FullyQualifiedErrorId | Should -BeLike 'NoMailHost,*'
        $out.Errors[0].TargetObject | Should -Be 'dangling.omr-lab.test'
    }

    It 'writes HostNotFound for a host that does not exist' {
        $out = Invoke-Relay -Extra @{ ComputerName = 'missing.mx.omr-lab.test' }
        $out.Results | Should -BeNullOrEmpty
        $out.Errors.Count | Should -Be 1
        $out.Errors[0].FullyQualifiedErrorId | Should -BeLike 'HostNotFound,*'
        $out.Errors[0].TargetObject | Should -Be 'missing.mx.omr-lab.test'
        $out.Errors[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
    }

    It 'still tests the good domain when a bad one is in the same pipeline' {
        $out = 'nonexistent.omr-lab.test', 'open.omr-lab.test', 'dangling.omr-lab.test' | Invoke-Relay
        $out.Results.Count | Should -Be 1
        $out.Results[0].Domain | Should -Be 'open.omr-lab.test'
        $out.Results[0].Verdict | Should -Be 'Open'
        $out.Errors.Count | Should -Be 2
        @($out.Errors.TargetObject | Sort-Object) | Should -Be @('dangling.omr-lab.test', 'nonexistent.omr-lab.test')
    }

    It 'rejects <Case> with a terminating error before testing anything' -ForEach @(
        @{ Case = '-Port 0'; Params = @{ Port = 0 }; ErrorId = 'ParameterArgumentValidationError,Omr.Commands.TestOpenRelayCommand' }
        @{ Case = '-Port 65536'; Params = @{ Port = 65536 }; ErrorId = 'ParameterArgumentValidationError,Omr.Commands.TestOpenRelayCommand' }
        @{ Case = '-Tls Bogus'; Params = @{ Tls = 'Bogus' }; ErrorId = 'CannotConvertArgumentNoMessage,Omr.Commands.TestOpenRelayCommand' }
        @{ Case = '-Test no-such-test'; Params = @{ Test = 'no-such-test' }; ErrorId = 'UnknownRelayTest,Omr.Commands.TestOpenRelayCommand' }
        @{ Case = '-ProbeRecipient not-an-address'; Params = @{ ProbeRecipient = 'not-an-address' }; ErrorId = 'InvalidProbeAddress,Omr.Commands.TestOpenRelayCommand' }
    ) {
        $call = @{ Domain = 'open.omr-lab.test'; DnsServer = $Lab.dnsServer }
        if (-not $Params.ContainsKey('Port')) { $call.Port = $Lab.smtpPort }
        foreach ($k in $Params.Keys) { $call[$k] = $Params[$k] }
        $script:leaked = $null
        { $script:leaked = Test-OpenRelay @call } | Should -Throw -ErrorId $ErrorId
        $script:leaked | Should -BeNullOrEmpty
    }

    It 'stops with one NoTarget error when given no target at all' {
        $errs = $null
        { Test-OpenRelay -ErrorVariable errs } | Should -Throw -ErrorId 'NoTarget,*'
        @($errs).Count | Should -Be 1
    }

    It 'writes a NoTarget error for a piped object without a domain or host, and goes on' {
        $out = [pscustomobject]@{ Something = 'else' }, 'open.omr-lab.test' | Invoke-Relay
        $out.Results.Count | Should -Be 1
        @($out.Errors | Where-Object FullyQualifiedErrorId -Like 'NoTarget,*').Count | Should -Be 1
    }

    It 'writes InvalidTarget for a name that cannot be a domain' {
        $out = Invoke-Relay -Extra @{ Domain = 'exa mple.com' }
        $out.Results | Should -BeNullOrEmpty
        $out.Errors.Count | Should -Be 1
        $out.Errors[0].FullyQualifiedErrorId | Should -BeLike 'InvalidTarget,*'
        $out.Errors[0].CategoryInfo.Category | Should -Be 'InvalidArgument'
        $out.Errors[0].TargetObject | Should -Be 'exa mple.com'
    }
}

Describe 'Selecting tests' -Tag Lab {
    It 'runs only the test named with -Test' {
        $r = Test-OpenRelay -Domain 'vuln-percent-hack-ip.omr-lab.test' -Test 'percent-hack-ip' @P
        @($r).Count | Should -Be 1
        @($r.Tests.Name) | Should -Be @('percent-hack-ip')
        $r.Verdict | Should -Be 'Open'
        @($r.RelayedBy) | Should -Be @('percent-hack-ip')
    }

    It 'calls a server Closed when the one test that would open it is not selected' {
        $r = Test-OpenRelay -Domain 'vuln-percent-hack-ip.omr-lab.test' -Test 'foreign-recipient' @P
        $r.Verdict | Should -Be 'Closed'
        @($r.Tests.Name) | Should -Be @('foreign-recipient')
    }

    It 'completes -Test with the catalogue names' {
        $line = 'Test-OpenRelay -Test percent'
        $names = (TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches.CompletionText
        $names | Should -Contain 'percent-hack-ip'
        $names | Should -Contain 'percent-hack-host'
        $names | Should -Contain 'percent-hack-domain'
        $names | Should -Not -Contain 'foreign-recipient'
    }

    It 'stops at the first accepted test with -StopOnFirst' {
        $r = Test-OpenRelay -Domain 'open.omr-lab.test' -StopOnFirst @P
        $r.Verdict | Should -Be 'Open'
        @($r.RelayedBy).Count | Should -Be 1
        @($r.Tests | Where-Object Accepted).Count | Should -Be 1
    }
}

Describe 'Verdicts for every lab server' -Tag Lab, Verdicts {
    BeforeAll {
        # All server domains in one run: the cmdlet tests them concurrently.
        $domains = @($Lab.servers | Where-Object { $_.PSObject.Properties['domain'] -and $_.domain } | ForEach-Object domain)
        $script:All = Invoke-Relay -Extra @{ Domain = $domains }
    }

    It '<Name> (<Domain>) is <Expected>' -ForEach $servers {
        $r = @($All.Results | Where-Object { $_.Domain -eq $Domain -and $_.Address -eq $Server.address })
        $r.Count | Should -Be 1 -Because "one result for $Domain at $($Server.address) (errors: $($All.Errors | Where-Object TargetObject -EQ $Domain))"
        $r[0].Verdict | Should -Be $Expected -Because $r[0].Reason
        $r[0].ComputerName | Should -Be $Server.hostName
    }

    It '<Name> is relayed by exactly its expected tests' -ForEach $openServers {
        $r = @($All.Results | Where-Object { $_.Domain -eq $Domain -and $_.Address -eq $Server.address })
        $r.Count | Should -Be 1
        @($r[0].RelayedBy | Sort-Object) | Should -Be @($Server.expectedRelayedBy | Sort-Object)
    }

    It 'writes no error for a lab server' {
        $All.Errors | Should -BeNullOrEmpty
    }

    It '<_> shuts the tester out: Inconclusive with ReasonCode ClientRefused, never Closed' -ForEach 'reject-session', 'refuse-client', 'blocklisted' {
        $r = @($All.Results | Where-Object Domain -EQ "$_.omr-lab.test")
        $r.Count | Should -Be 1
        $r[0].Verdict | Should -Be 'Inconclusive' -Because $r[0].Reason
        $r[0].ReasonCode | Should -Be 'ClientRefused'
        $r[0].Reason | Should -Match 'No relay policy was seen'
        "$($r[0])" | Should -Match 'Inconclusive: (The server refused|Every RCPT was refused)'
    }
}

Describe 'Every multi-host lab domain gives what the lab expects' -Tag Lab, Verdicts {
    It '<Domain>: <Expect>' -ForEach $labDomains {
        $out = Invoke-Relay -Extra @{ Domain = $Domain }
        $wantErrors = @($Expect | Where-Object { $_ -match ':Error@' })
        $want = @($Expect | Where-Object { $_ -notmatch ':Error@' } | Sort-Object)
        $got = @($out.Results | Where-Object Verdict -NE 'NoMail' | ForEach-Object {
                $server = $ServerByAddress[$_.Address]
                $name = if ($server) { $server.name } else { $_.Address }
                $pref = if ($null -eq $_.Preference) { 0 } else { $_.Preference }
                '{0}:{1}@{2}' -f $name, $_.Verdict, $pref
            } | Sort-Object)
        $got | Should -Be $want
        $out.Errors.Count | Should -Be $wantErrors.Count
    }
}

Describe 'Slow and greylisting servers' -Tag Lab, Slow {
    It 'gives up on the tarpit within the deadline: Inconclusive' {
        $r = Test-OpenRelay -Domain 'tarpit.omr-lab.test' -DnsServer $Lab.dnsServer -Port $Lab.smtpPort -TimeoutSec 5
        @($r).Count | Should -Be 1
        $r.Verdict | Should -Be 'Inconclusive'
        $r.Duration | Should -BeOfType [timespan]
        $r.Duration.TotalSeconds | Should -BeLessThan 10
    }

    It 'retries a greylisted server with -GreylistRetrySec and then judges it Closed' {
        $r = Test-OpenRelay -Domain 'greylist.omr-lab.test' -GreylistRetrySec 3 @P
        @($r).Count | Should -Be 1
        $r.Verdict | Should -Be 'Closed' -Because $r.Reason
    }
}

Describe 'Output objects' -Tag Lab, Output {
    BeforeAll {
        $script:Results = @(Test-OpenRelay -Domain 'backup.omr-lab.test', 'open.omr-lab.test' @P)
        $script:Open = $Results | Where-Object { $_.Domain -eq 'open.omr-lab.test' } | Select-Object -First 1
    }

    It 'are Omr.RelayTestResult objects' {
        $Results.Count | Should -Be 3
        foreach ($r in $Results) { $r.GetType().FullName | Should -Be 'Omr.RelayTestResult' }
    }

    It 'have property <_>' -ForEach @('Target', 'Domain', 'ComputerName', 'Address', 'Port', 'Preference', 'Verdict',
        'Reason', 'Banner', 'Tls', 'RelayedBy', 'Tests', 'Transcript', 'StartTime', 'Duration', 'ProbeId') {
        $Open.PSObject.Properties.Name | Should -Contain $_
    }

    It 'carry the test outcomes' {
        $Open.Tests.Count | Should -BeGreaterThan 1
        foreach ($t in $Open.Tests) {
            foreach ($name in 'Name', 'MailFrom', 'RcptTo', 'ReplyCode', 'EnhancedCode', 'Text', 'Accepted') {
                $t.PSObject.Properties.Name | Should -Contain $name
            }
        }
        $first = $Open.Tests | Where-Object Name -EQ 'foreign-recipient'
        $first.Accepted | Should -BeTrue
        $first.ReplyCode | Should -BeGreaterOrEqual 250
        $first.ReplyCode | Should -BeLessThan 300
        $first.RcptTo | Should -Match '@'
    }

    It 'carry the transcript' {
        $Open.Transcript.Count | Should -BeGreaterThan 3
        foreach ($name in 'Time', 'Direction', 'Text') { $Open.Transcript[0].PSObject.Properties.Name | Should -Contain $name }
        $sent = @($Open.Transcript | Where-Object Direction -EQ 'C').Text
        ($sent -join "`n") | Should -Match '(?m)^(EHLO|HELO) '
        ($sent -join "`n") | Should -Match '(?m)^RCPT TO:'
        ($sent -join "`n") | Should -Not -Match '(?m)^DATA' -Because 'the default run never sends DATA'
        @($Open.Transcript | Where-Object Direction -EQ 'S')[0].Text | Should -Match '^220'
        $Open.Banner | Should -Not -BeNullOrEmpty
    }

    It 'have a start time and a duration' {
        $Open.StartTime | Should -BeOfType [DateTimeOffset]
        $Open.Duration | Should -BeOfType [timespan]
        $Open.Duration | Should -BeGreaterThan ([timespan]::Zero)
    }

    It 'have unique probe ids' {
        $ids = @($Results.ProbeId)
        $ids | Should -Not -Contain ''
        @($ids | Sort-Object -Unique).Count | Should -Be $Results.Count
    }

    It 'convert to JSON' {
        $json = $Results | ConvertTo-Json -Depth 5
        $back = $json | ConvertFrom-Json
        @($back).Count | Should -Be 3
        ($back | Where-Object Domain -EQ 'open.omr-lab.test').ComputerName | Should -Be 'open.mx.omr-lab.test'
        ($back | Where-Object Domain -EQ 'open.omr-lab.test').Tests.Count | Should -Be $Open.Tests.Count
    }

    It 'export to CSV' {
        $file = Join-Path $TestDrive 'results.csv'
        $Results | Export-Csv -LiteralPath $file -NoTypeInformation
        $back = @(Import-Csv -LiteralPath $file)
        $back.Count | Should -Be 3
        ($back | Where-Object Domain -EQ 'open.omr-lab.test').Verdict | Should -Be 'Open'
        ($back | Where-Object Domain -EQ 'open.omr-lab.test').Address | Should -Be $Open.Address
    }

    It 'render in the default view' {
        $text = $Results | Out-String -Width 200
        # Case-sensitive and anchored to each row: the host names themselves contain "open" and "closed".
        @($Results | ForEach-Object { "$($_.Verdict)" }) -ccontains 'Open' | Should -BeTrue
        @($Results | ForEach-Object { "$($_.Verdict)" }) -ccontains 'Closed' | Should -BeTrue
        foreach ($r in $Results) {
            $row = '(?m)^{0}\s+{1}\s+{2}\s+{3}\s+{4}(\s|$)' -f [regex]::Escape($r.Domain), [regex]::Escape($r.ComputerName), [regex]::Escape($r.Address), $r.Port, $r.Verdict
            $text | Should -MatchExactly $row -Because "the row of $($r.ComputerName) shows its verdict $($r.Verdict)"
        }
    }
}

Describe 'Test-OpenRelay -Blocklist' -Tag Lab, Blocklist {
    BeforeAll {
        $script:Good = 'dnsbl.omr-lab.test'
        $script:Refusing = 'resolver-bl.omr-lab.test'
        $script:Silent = 'silent-bl.omr-lab.test'
    }

    It 'an open relay listed on a zone shows the listing, with the zone''s code and text; a closed server is not asked' {
        $r = @(Test-OpenRelay open.omr-lab.test, closed.omr-lab.test @P -Blocklist $Good -WarningVariable w)
        $open = @($r | Where-Object Verdict -EQ 'Open')
        $open.Count | Should -Be 1
        $open[0].Listings.Count | Should -Be 1
        $open[0].Listings[0].Zone | Should -Be $Good
        $open[0].Listings[0].Codes | Should -Be @('127.0.0.2')
        $open[0].Listings[0].Text | Should -Match 'Open relay seen by the lab blocklist'
        $open[0].Listings[0].PSObject.TypeNames | Should -Contain 'Omr.BlocklistListing'
        ($r | Where-Object Verdict -EQ 'Closed').Listings.Count | Should -Be 0
        @($w).Count | Should -Be 0
        ($open[0] | Format-List | Out-String) | Should -Match 'Listings\s*:\s*dnsbl\.omr-lab\.test \(127\.0\.0\.2\)'
    }

    It 'a zone that answers 127.255.255.254 lists nobody and says so once' {
        $r = @(Test-OpenRelay open.omr-lab.test, backup.omr-lab.test @P -Blocklist $Refusing, $Good -WarningVariable w -WarningAction SilentlyContinue)
        $open = @($r | Where-Object Verdict -EQ 'Open')
        $open.Count | Should -Be 2 -Because 'open.omr-lab.test and the open backup MX of backup.omr-lab.test'
        foreach ($o in $open) { @($o.Listings.Zone) | Should -Be @($Good) }
        @($w | Where-Object { "$_" -match "^BlocklistZoneUnusable: the blocklist $([regex]::Escape($Refusing))" }).Count | Should -Be 1
        @($w | Where-Object { "$_" -match 'public or open resolver' }).Count | Should -Be 1
    }

    It 'a zone that never answers is said once and read as nothing, within the deadline' {
        $sw = [Diagnostics.Stopwatch]::StartNew()
        $r = @(Test-OpenRelay open.omr-lab.test @P -Blocklist $Silent -WarningVariable w -WarningAction SilentlyContinue)
        $r[0].Verdict | Should -Be 'Open'
        $r[0].Listings.Count | Should -Be 0
        @($w | Where-Object { "$_" -match "^BlocklistZoneUnusable: .*$([regex]::Escape($Silent)).*did not answer" }).Count | Should -Be 1
        $sw.Elapsed.TotalSeconds | Should -BeLessThan 60
    }

    It '-BlocklistAll asks about every address; bad arguments are refused before anything is sent' {
        # The lab zone lists the closed server too (127.0.0.3): without -BlocklistAll it is not asked about.
        $r = @(Test-OpenRelay closed.omr-lab.test @P -Blocklist $Good -BlocklistAll)
        $r[0].Verdict | Should -Be 'Closed'
        @($r[0].Listings.Codes) | Should -Be @('127.0.0.3')
        { Test-OpenRelay closed.omr-lab.test @P -Blocklist 'not a zone' -ErrorAction Stop } | Should -Throw -ErrorId 'InvalidBlocklistZone,*'
        { Test-OpenRelay closed.omr-lab.test @P -BlocklistAll -ErrorAction Stop } | Should -Throw -ErrorId 'BlocklistMissing,*'
    }
}
