# Dot-sourced by Invoke-Tests.ps1: the real peers (Postfix, Dovecot, dnsmasq, sshd, Exim, OpenSMTPD,
# Sendmail from tests/lab/peers.sh) around the Pester run. They use fixed loopback addresses.

$PeersScript = Join-Path $Root 'tests/lab/peers.sh'

function Test-PeersAvailable {
    if (-not (Test-Path -LiteralPath $PeersScript)) { return $false }
    [bool](Get-Command postfix -CommandType Application -ErrorAction SilentlyContinue) -or
    (Test-Path -LiteralPath '/usr/sbin/postfix')
}

function Install-Peers {
    # The real peers come from Debian's packages. On a fresh machine, as root, install them here,
    # so that the README's test command works with nothing but the .NET SDK; elsewhere say how.
    $script = Join-Path $Root 'tests/lab/install-peers.sh'
    if (-not (Test-Path -LiteralPath $script)) { return }
    $isRoot = $IsLinux -and ((& id -u 2>$null) -eq '0')
    if (-not $isRoot -or -not (Get-Command apt-get -CommandType Application -ErrorAction SilentlyContinue)) {
        Write-Warning 'Postfix/Dovecot are not installed: run tests/lab/install-peers.sh as root (Debian/Ubuntu), or set OMR_SKIP_PEERS=1 to skip the real-server tests.'
        return
    }
    Write-Step 'Installing the real peers (tests/lab/install-peers.sh: postfix, dovecot, swaks, nmap)'
    $log = Join-Path $TestResults 'install-peers.log'
    & bash $script *> $log
    if ($LASTEXITCODE -ne 0) {
        Write-Warning "tests/lab/install-peers.sh failed (exit $LASTEXITCODE); the real-server tests will fail. Log: $log"
        Get-Content -LiteralPath $log -Tail 20 -ErrorAction SilentlyContinue | ForEach-Object { Write-Host "   $_" }
    }
}

function Start-Peers {
    # Returns the JSON line printed by 'tests/lab/peers.sh start', or $null.
    Write-Step 'Starting Postfix/Dovecot peers (tests/lab/peers.sh start)'
    $log = Join-Path $TestResults 'peers-start.log'
    $lines = & bash $PeersScript start 2>$log
    $code = $LASTEXITCODE
    $json = @($lines | Where-Object { $_ -match '^\s*\{' }) | Select-Object -Last 1
    if ($code -ne 0 -or -not $json) {
        Write-Warning "peers.sh start failed (exit $code); the Postfix tests will fail. Log: $log"
        Get-Content -LiteralPath $log -Tail 20 -ErrorAction SilentlyContinue | ForEach-Object { Write-Host "   $_" }
        return $null
    }
    Write-Host "   $json"
    $json
}

function Stop-Peers {
    Write-Step 'Stopping peers (tests/lab/peers.sh stop)'
    & bash $PeersScript stop 2>&1 | ForEach-Object { Write-Host "   $_" }
}

function Invoke-WithPeers([scriptblock] $Body) {
    # Runs $Body with the peers started and their endpoints in OMR_PEERS (the JSON line of
    # 'peers.sh start'), or with OMR_PEERS_ERROR saying why they are not there; stops them after.
    # OMR_SKIP_PEERS=1 starts nothing: the peer tests then see no OMR_PEERS and skip, not pass.
    $started = $false
    $json = $null
    $why = $env:OMR_PEERS_ERROR
    try {
        if ($env:OMR_SKIP_PEERS -eq '1') {
            # The peers use fixed loopback addresses, so a run that skips them must not start (or stop) them either.
            Write-Step 'Real peers skipped (OMR_SKIP_PEERS=1): the Postfix/Dovecot/dnsmasq tests are skipped, not passed'
        }
        else {
            if (-not (Test-PeersAvailable)) { Install-Peers }
            if (Test-PeersAvailable) {
                $started = $true
                $json = Start-Peers
                if (-not $json) { $why = "tests/lab/peers.sh start failed: see $(Join-Path $TestResults 'peers-start.log')" }
            }
            elseif (-not (Test-Path -LiteralPath $PeersScript)) { $why = 'tests/lab/peers.sh does not exist.' }
            else { $why = 'postfix is not installed (run tests/lab/install-peers.sh as root, or set OMR_SKIP_PEERS=1).' }
        }
        Invoke-WithEnvironment @{ OMR_PEERS = $json; OMR_PEERS_ERROR = $why } $Body
    }
    finally {
        if ($started) { Stop-Peers }
    }
}
