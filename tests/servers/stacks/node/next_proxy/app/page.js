export default function Page() { return <p>next stack</p>; }
