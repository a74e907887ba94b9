"""AWS Application Load Balancer: upgrades on HTTP/HTTPS listeners; a 60 s idle timeout."""

from wsinspect.diagnose.stacks._match import header_matches
from wsinspect.diagnose.stacks._record import Signal, Snippet, StackRecord
from wsinspect.diagnose.stacks._site import SITE, site_cookie, site_server

# An idle upgraded connection cut short (research: tests/fixtures/stacks/*/idle_timeout.txt).
IDLE_TIMEOUT = Snippet(
    "text",
    "Raise the load balancer's idle timeout (default 60 s, at most 4000 s) above the longest "
    "silence, or send pings every 30 s (data either way resets it):\n"
    "aws elbv2 modify-load-balancer-attributes --load-balancer-arn <your ALB's ARN> "
    "--attributes Key=idle_timeout.timeout_seconds,Value=300",
    knob="idle_timeout.timeout_seconds above the longest silence (default 60)",
)


STACK = StackRecord(
    name="AWS ALB",
    kind="proxy",
    docs="https://docs.aws.amazon.com/elasticloadbalancing/latest/application/application-load-balancers.html",
    language="text",
    signals=(Signal("Server: awselb", 0.95, header_matches("Server", r"^awselb")),),
    site_signals=(
        Signal(SITE + "Server: awselb", 0.6, site_server(r"^awselb")),
        Signal(
            SITE + "an AWSALB stickiness cookie",
            0.5,
            site_cookie(r"AWSALB(CORS|TG|TGCORS)?|AWSALBAPP-\d+"),
        ),
    ),
    fixes={
        "upgrade-headers-missing": Snippet(
            "text",
            "ALB forwards WebSocket upgrades on HTTP/HTTPS listeners; a Classic ELB needs a "
            "TCP/SSL listener.",
            knob="an HTTP/HTTPS listener (a Classic ELB: TCP/SSL)",
        ),
        "upstream-failed": Snippet(
            "text",
            "503: the target group has no healthy target (its health check must pass); 502: a "
            "target closed the connection or answered something that is not HTTP.",
            knob="healthy targets in the target group (503: none passes its health check)",
        ),
        "idle-timeout": IDLE_TIMEOUT,
    },
)
