import { createRoot } from 'react-dom/client';
import 'leaflet/dist/leaflet.css';
import './style.css';
import { App } from './App';

createRoot(document.getElementById('root')!).render(<App />);
