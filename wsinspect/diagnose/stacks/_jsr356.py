"""Fixes shared by the Jakarta (JSR-356) WebSocket containers, Tomcat and Jetty: the endpoint's
own ``ServerEndpointConfig.Configurator`` and ``@ServerEndpoint`` say what a handshake may carry.
"""

from wsinspect.diagnose.stacks._record import Snippet

CHECK_ORIGIN = Snippet(
    "java",
    """\
public class OriginCheck extends ServerEndpointConfig.Configurator {
    private static final Set<String> ALLOWED = Set.of("{{origin}}");  // full origins, one by one

    @Override
    public boolean checkOrigin(String origin) {  // the default accepts every origin
        return ALLOWED.contains(origin);
    }
}

@ServerEndpoint(value = "{{path}}", configurator = OriginCheck.class)""",
    knob='Configurator: public boolean checkOrigin(String o) { return "{{origin}}".equals(o); }',
)

SUBPROTOCOLS = Snippet(
    "java",
    """\
// the container selects the first protocol the client offers that is listed here
@ServerEndpoint(value = "{{path}}", subprotocols = {"{{protocol}}"})""",
    knob='@ServerEndpoint(value = "{{path}}", subprotocols = {"{{protocol}}"})',
)
