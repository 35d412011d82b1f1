#!/usr/bin/perl
# The webhook service of the driver matrix, on DBI + DBD::Pg, behind a minimal HTTP/1.1 server on
# IO::Socket::INET (Debian's perl has no HTTP::Daemon unless libhttp-daemon-perl is installed).
# Arguments: broken|fixed, then optional DBD::Pg attributes as name=value (pg_switch_prepared=1).
use strict;
use warnings;
use DBI;
use IO::Socket::INET;
use JSON::PP qw(decode_json);

my ($variant, @attrs) = @ARGV;
my $fixed = ($variant // '') eq 'fixed';

my ($user, $pass, $host, $port, $db) =
  $ENV{DATABASE_URL} =~ m{^postgres(?:ql)?://(?:([^:@/]+)(?::([^@/]*))?@)?([^:/?]+)(?::(\d+))?/([^?]*)}
  or die "DATABASE_URL is not a postgres:// URL\n";
# One connection, as the incident's service had; the server below handles one request at a time.
my $dbh = DBI->connect("dbi:Pg:dbname=$db;host=$host;port=" . ($port // 5432), $user // 'postgres', $pass,
  { RaiseError => 1, PrintError => 0, AutoCommit => 1, map { split /=/, $_, 2 } @attrs })
  or die $DBI::errstr;

sub record {
  my ($event) = @_;
  my $email = $event->{data}{object}{customer_details}{email};
  $dbh->begin_work;
  eval { $dbh->selectrow_array('SELECT id, credits_balance FROM users WHERE email = ?', undef, $email); 1 } or do {
    warn "select user: $@";
    if ($fixed) {
      # The transaction is aborted: start a fresh one and go on without the column.
      $dbh->rollback;
      $dbh->begin_work;
      $dbh->selectrow_array('SELECT id FROM users WHERE email = ?', undef, $email);
    }
  };
  eval { $dbh->do('INSERT INTO webhook_events (event_id, type) VALUES (?, ?)', undef, $event->{id}, $event->{type}); 1 }
    or do { warn "insert event: $@"; die $@ if $fixed };
  eval { $dbh->commit; 1 } or do { warn "commit: $@"; die $@ if $fixed };
}

sub respond {
  my ($client, $status) = @_;
  print $client "HTTP/1.1 $status\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
  close $client;
}

my $server = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $ENV{PORT}, Listen => 64, ReuseAddr => 1)
  or die "listen on 127.0.0.1:$ENV{PORT}: $!\n";
while (my $client = $server->accept) {
  my $request = <$client> // next;
  my ($method, $path) = split ' ', $request;
  my %headers;
  while (my $line = <$client>) {
    last if $line =~ /^\r?\n$/;
    $headers{lc $1} = $2 if $line =~ /^([^:]+):\s*(.*?)\r?\n$/;
  }
  my $body = '';
  read($client, $body, $headers{'content-length'}) if $headers{'content-length'};
  if ($path eq '/healthz') {
    respond($client, '200 OK');
  } elsif ($method eq 'POST' && $path eq '/webhooks/stripe') {
    my $event = eval { decode_json($body) } or do { respond($client, '400 Bad Request'); next };
    if (eval { record($event); 1 }) {
      respond($client, '200 OK');
    } else {
      warn "webhook $event->{id}: $@";
      eval { $dbh->rollback } if !$dbh->{AutoCommit};
      respond($client, '500 Internal Server Error');
    }
  } else {
    respond($client, '404 Not Found');
  }
}
